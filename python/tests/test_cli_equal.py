"""Every function against the CLI built from the same repository: tables equal the Parquet
files of `tracetail export` (schema and values) and the rows of `--json`; dicts equal the
`--json` documents. On the sample and on every capture of the shared corpus."""

import json
import os
import subprocess
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tracetail
from conftest import REPO, SAMPLE, run_cli

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".zst")


def corpus_captures():
    d = Path(os.environ.get("TRACETAIL_CORPUS", REPO.parent / "shared" / "corpus"))
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


CAPTURES = [SAMPLE] + corpus_captures()


def test_corpus_is_there(corpus):
    """The parametrized tests below cover the corpus only when it is present."""
    assert len(CAPTURES) > 50


def quiet(fn, *args, **kwargs):
    """Calls fn with CaptureWarnings (damaged corpus files) recorded, not printed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, tracetail.CaptureWarning)]


def json_lines(data: bytes):
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def json_key(column: str) -> str:
    """The --json key of a table column (timestamps are integer ns there: `*_ts` -> `*_ns`)."""
    return column[: -len("_ts")] + "_ns" if column.endswith("_ts") else column


def assert_rows_equal_json(table: pa.Table, rows: list, what: str):
    assert table.num_rows == len(rows), f"{what}: row count"
    # Timestamps as int64 ns (exact; datetime objects would drop the nanoseconds).
    as_ints = pa.table(
        [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c for c in table.columns],
        names=table.column_names,
    )
    for i, (ours, theirs) in enumerate(zip(as_ints.to_pylist(), rows)):
        for column, value in ours.items():
            if column == "capture_file":
                assert Path(theirs["capture"]).name == value
                continue
            assert value == theirs[json_key(column)], f"{what} row {i} column {column}"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_tables_equal_parquet_export_and_json(cli, capture, tmp_path):
    out = subprocess.run(
        [str(cli), "export", str(capture), "-o", str(tmp_path), "--protocol", "tcp",
         "--protocol", "tls"],
        capture_output=True,
    )
    if out.returncode != 0:
        # The CLI could not read it: neither can the binding, and it says so as CaptureError.
        with pytest.raises(tracetail.CaptureError) as err:
            tracetail.http(capture)
        assert err.value.file == str(capture)
        assert isinstance(err.value.offset, int)
        return
    for function, table, cli_command in [
        (tracetail.sessions, "flows", "sessions"),
        (tracetail.http, "http", "http"),
        (tracetail.dns, "dns", "dns"),
        (tracetail.tcp, "tcp", "tcp"),
        (tracetail.tls, "tls", "tls"),
    ]:
        ours, _ = quiet(function, capture)
        (written,) = (tmp_path / table).glob("*.parquet")
        theirs = pq.read_table(written)
        assert ours.schema.equals(theirs.schema, check_metadata=True), (
            f"{table}: schema\n{ours.schema}\n{theirs.schema}"
        )
        assert ours.equals(theirs), f"{table}: values differ from {written}"
        rows = json_lines(run_cli(cli, cli_command, "--json", str(capture)))
        assert_rows_equal_json(ours, rows, f"{capture.name} {table}")


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_dicts_equal_cli_json(cli, capture):
    probe = subprocess.run([str(cli), "summary", "--json", str(capture)], capture_output=True)
    if probe.returncode != 0:
        with pytest.raises(tracetail.CaptureError):
            tracetail.summary(str(capture))
        return
    summary, _ = quiet(tracetail.summary, str(capture))
    assert summary == json.loads(probe.stdout)
    scapy, _ = quiet(tracetail.sessions_scapy, capture)
    assert scapy == json.loads(run_cli(cli, "sessions", "--scapy", "--json", str(capture)))
    for metric, by, method in [
        ("ttfb", None, "nearest-rank"),
        ("total", "server", "linear"),
        ("dns", "server", "nearest-rank"),
        ("handshake", "client", "nearest-rank"),
    ]:
        args = ["latency", "--json", "--metric", metric, "--method", method, str(capture)]
        if by:
            args += ["--by", by]
        ours, _ = quiet(tracetail.latency, capture, metric=metric, by=by, method=method)
        assert ours == json.loads(run_cli(cli, *args)), f"{metric} by {by} {method}"


def test_several_captures_like_several_files(cli, corpus):
    files = [SAMPLE, corpus / "cs__http_espn.pcapng", corpus / "cs__dns_lab.pcapng"]
    assert tracetail.summary([str(f) for f in files]) == json.loads(
        run_cli(cli, "summary", "--json", *map(str, files))
    )
    both = tracetail.http(files)
    parts = [tracetail.http(f) for f in files]
    assert both.equals(pa.concat_tables(parts))
    assert set(both.column("capture_file").to_pylist()) >= {SAMPLE.name, "cs__http_espn.pcapng"}
    assert tracetail.latency(files, by="server") == json.loads(
        run_cli(cli, "latency", "--json", "--by", "server", *map(str, files))
    )


def test_bytes_file_objects_and_paths_agree(tmp_path):
    by_path = tracetail.http(SAMPLE)
    data = SAMPLE.read_bytes()
    from_bytes = tracetail.http(data)
    with open(SAMPLE, "rb") as f:
        from_file = tracetail.http(f)
    # Same rows; capture_file names the source ("bytes", the file object's name).
    names = by_path.column_names[1:]
    assert from_bytes.select(names).equals(by_path.select(names))
    assert from_file.equals(by_path)
    assert set(from_bytes.column("capture_file").to_pylist()) == {"bytes"}
    assert tracetail.summary(bytearray(data))["packets"] == tracetail.summary(SAMPLE)["packets"]
    # The temporary copies are gone once the call returns.
    import tempfile

    leftovers = list(Path(tempfile.gettempdir()).glob("tracetail-*.capture"))
    assert leftovers == []


def test_read_batches_streams_the_same_table():
    for table, function in [("http", tracetail.http), ("flows", tracetail.sessions), ("dns", tracetail.dns)]:
        reader = tracetail.read_batches(SAMPLE, table)
        assert isinstance(reader, pa.RecordBatchReader)
        assert reader.read_all().equals(function(SAMPLE))


def test_report_writes_the_cli_page(cli, tmp_path):
    ours = tmp_path / "py.html"
    assert tracetail.report(SAMPLE, ours) == str(ours)
    theirs = tmp_path / "cli.html"
    subprocess.run([str(cli), "report", str(SAMPLE), "-o", str(theirs)], check=True, capture_output=True)
    # The same page, except the capture's name as given (a path on the command line).
    assert ours.read_text() == theirs.read_text()


def test_tcp_batches_equal_the_cli_rows(cli):
    """`read_batches(src, "tcp")`: the exchanges of `tracetail tcp`, same count and times."""
    table = tracetail.read_batches(SAMPLE, "tcp").read_all()
    rows = json_lines(run_cli(cli, "tcp", "--json", str(SAMPLE)))
    assert len(rows) > 0
    assert_rows_equal_json(table, rows, "tcp")
    assert tracetail.tcp(SAMPLE).equals(table)
