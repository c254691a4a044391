"""`tracetail.http`/`dns` on a synthetic capture equal its generated ground truth to the ns."""

import csv

import tracetail

HTTP_COLUMNS = [
    "client_ip", "client_port", "server_ip", "server_port", "method", "uri", "status",
    "request_bytes", "response_bytes",
]
TIMES = ["request_first", "request_last", "response_first", "response_last"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_http_equals_the_truth_to_the_nanosecond(synth):
    truth = read_csv(f"{synth}.truth.csv")
    assert len(truth) >= 1000
    table = tracetail.http(synth)
    assert table.num_rows == len(truth)
    rows = {(r["connection_id"], r["depth"]): r for r in table.to_pylist()}
    for t in truth:
        ours = rows[(int(t["flow_index"]), int(t["depth"]))]
        for column in HTTP_COLUMNS:
            assert str(ours[column]) == t[column], (t["flow_index"], t["depth"], column)
        for name in TIMES:
            # Integer ns from the timestamp column (no float on the way).
            assert ours[f"{name}_ts"] is not None
        assert ours["flags"] == []
    # Timestamps compared as int64 ns, column-wise.
    ns = {name: table.column(f"{name}_ts").cast("int64").to_pylist() for name in TIMES}
    keys = list(zip(table.column("connection_id").to_pylist(), table.column("depth").to_pylist()))
    index = {k: i for i, k in enumerate(keys)}
    for t in truth:
        i = index[(int(t["flow_index"]), int(t["depth"]))]
        for name in TIMES:
            assert ns[name][i] == int(t[f"{name}_ns"]), (t["flow_index"], t["depth"], name)
        assert table.column("ttfb_ns")[i].as_py() == int(t["response_first_ns"]) - int(t["request_first_ns"])


def test_dns_equals_the_truth(synth):
    truth = read_csv(f"{synth}.dns.truth.csv")
    table = tracetail.dns(synth)
    assert table.num_rows == len(truth) > 10
    query = table.column("query_ts").cast("int64").to_pylist()
    response = table.column("response_ts").cast("int64").to_pylist()
    index = {
        (port, id_): i
        for i, (port, id_) in enumerate(
            zip(table.column("client_port").to_pylist(), table.column("id").to_pylist())
        )
    }
    for t in truth:
        i = index[(int(t["client_port"]), int(t["id"]))]
        assert query[i] == int(t["query_ns"])
        if t["answered"] == "true":
            assert response[i] == int(t["response_ns"])
