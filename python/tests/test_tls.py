"""TLS from Python: `tracetail.tls` equals `tracetail tls --json` on the corpus TLS captures, and
`keylog=` decrypts real HTTPS captured on loopback (scripts/tls_capture.py: Python `ssl`, curl
and `openssl s_client` clients writing key logs) exactly like the CLI's `--keylog`: every request
the clients made is found, the tables equal the CLI's rows and Parquet files, and no secret from
the key logs appears in any result."""

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tracetail
from conftest import REPO, need, run_cli
from test_cli_equal import assert_rows_equal_json, json_lines

CORPUS_TLS = ["zeek__tls13_wolfssl.pcap", "sv__tls-subjectaltname__input.pcap", "scapy__tls_nss_example.pcap"]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tracetail.CaptureWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("name", CORPUS_TLS)
def test_tls_equals_cli_json_on_corpus(cli, corpus, name):
    capture = corpus / name
    table = quiet(tracetail.tls, capture)
    rows = json_lines(run_cli(cli, "tls", "--json", str(capture)))
    assert table.num_rows == len(rows) > 0
    assert_rows_equal_json(table, rows, name)
    # Column names are `tls --json`'s (without the text-only `gap`), types as documented.
    assert table.column_names == ["capture_file"] + [k for k in rows[0] if k not in ("capture", "gap")]
    assert table.schema.field("client_hello_ns").type == pa.int64()
    assert table.schema.field("alpn_offered").type == pa.list_(pa.field("item", pa.string(), nullable=False))
    assert table.schema.field("resumed").type == pa.bool_()
    # read_batches streams the same table.
    streamed = quiet(lambda: tracetail.read_batches(capture, "tls").read_all())
    assert streamed.equals(table)
    # TLS metrics from the same rows, like `latency --metric tls-hello --by sni`.
    for metric in ("tls-hello", "tls-handshake"):
        ours = quiet(tracetail.latency, capture, metric=metric, by="server")
        assert ours == json.loads(
            run_cli(cli, "latency", "--json", "--metric", metric, "--by", "server", str(capture))
        ), metric


@pytest.fixture(scope="module")
def https(tmp_path_factory):
    """Real HTTPS on loopback with the clients' key logs (needs root, tcpdump, openssl)."""
    for tool in ("tcpdump", "openssl"):
        if shutil.which(tool) is None:
            need(tool, f"apt-get install {tool}")
    if os.geteuid() != 0:
        need("root", "tcpdump on loopback needs root (CI runs as root)")
    work = tmp_path_factory.mktemp("https")
    for _attempt in range(3):
        out = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "tls_capture.py"), "--workdir", str(work)],
            capture_output=True, text=True, timeout=180,
        )
        assert out.returncode == 0, out.stderr
        manifest = json.loads(out.stdout)
        # On a busy machine the kernel may drop a packet: capture again.
        if "0 packets dropped by kernel" in manifest["tcpdump"].splitlines()[-1]:
            return manifest
    pytest.fail(f"tcpdump keeps dropping packets: {manifest['tcpdump']}")


def keylog_args(keylogs):
    return [a for k in keylogs for a in ("--keylog", k)]


def secrets_of(keylogs):
    """Every secret (the last field of each key log line) in upper and lower case hex."""
    out = set()
    for path in keylogs:
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                out |= {parts[2].lower(), parts[2].upper()}
    return out


def test_http_with_keylog_decrypts_like_the_cli(cli, https, tmp_path):
    pcap, keylogs = https["pcap"], https["keylogs"]
    table = tracetail.http(pcap, keylog=keylogs)
    rows = json_lines(run_cli(cli, "http", "--json", *keylog_args(keylogs), pcap))
    assert_rows_equal_json(table, rows, "https http")
    # Every request the clients made, with its path and status, carried in TLS.
    found = sorted((r["uri"], r["status"]) for r in table.to_pylist())
    made = sorted((r["path"], r["status"]) for r in https["requests"])
    assert found == made
    assert all(table.column("tls").to_pylist())
    assert set(table.column("sni").to_pylist()) == {"localhost"}
    # The same table as `export --keylog` writes.
    run_cli(cli, "export", pcap, "-o", str(tmp_path), *keylog_args(keylogs))
    (written,) = (tmp_path / "http").glob("*.parquet")
    assert table.equals(pq.read_table(written))
    # Without keys nothing is decrypted: no HTTP rows.
    assert tracetail.http(pcap).num_rows == 0
    # One path (not a list) works too: only that client's requests.
    python_keys = [k for k in keylogs if k.endswith("keys-python.txt")]
    one = tracetail.http(pcap, keylog=python_keys[0])
    assert one.num_rows == sum(r["client"] == "python" for r in https["requests"]) > 0


def test_tls_with_keylog_equals_the_cli_and_leaks_no_secret(cli, https, tmp_path):
    pcap, keylogs = https["pcap"], https["keylogs"]
    table = tracetail.tls(pcap, keylog=keylogs)
    rows = json_lines(run_cli(cli, "tls", "--json", *keylog_args(keylogs), pcap))
    assert_rows_equal_json(table, rows, "https tls")
    assert all(table.column("decrypted").to_pylist())
    run_cli(cli, "export", pcap, "-o", str(tmp_path), "--protocol", "tls", *keylog_args(keylogs))
    (written,) = (tmp_path / "tls").glob("*.parquet")
    assert table.equals(pq.read_table(written))
    streamed = tracetail.read_batches(pcap, "tls", keylog=keylogs).read_all()
    assert streamed.equals(table)
    # Percentiles of the decrypted HTTP like `latency --keylog`.
    assert tracetail.latency(pcap, metric="total", keylog=keylogs) == json.loads(
        run_cli(cli, "latency", "--json", "--metric", "total", *keylog_args(keylogs), pcap)
    )
    # Keys are secrets: none appears in any table or in the report.
    secrets = secrets_of(keylogs)
    assert len(secrets) >= 10
    report = tracetail.report(pcap, tmp_path / "report.html", keylog=keylogs)
    texts = [
        json.dumps(table.to_pylist(), default=str),
        json.dumps(tracetail.http(pcap, keylog=keylogs).to_pylist(), default=str),
        json.dumps(tracetail.tcp(pcap, keylog=keylogs).to_pylist(), default=str),
        Path(report).read_text(),
    ]
    for text in texts:
        hexes = set(re.findall(r"[0-9a-fA-F]{32,}", text))
        assert not (hexes & secrets)


def test_bad_key_logs_raise(https, tmp_path):
    pcap = https["pcap"]
    with pytest.raises(FileNotFoundError):
        tracetail.http(pcap, keylog=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("# a comment\nCLIENT_RANDOM nothex zz\n")
    with pytest.raises(ValueError, match="line 2"):
        tracetail.tls(pcap, keylog=[bad])
    with pytest.raises(TypeError):
        tracetail.http(pcap, keylog=[42])
