"""Real traffic: a Python HTTP server and client on loopback, captured with tcpdump while the
test runs. `tracetail.http` must find every request the client made, with its URI, status and
body size, and timestamps inside the client's own measured send/receive window."""

import http.client
import http.server
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import tracetail
from conftest import need


class KeepAlive(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


def start_tcpdump(capture, port):
    if shutil.which("tcpdump") is None:
        need("tcpdump", "apt-get install tcpdump")
    if os.geteuid() != 0:
        need("root", "tcpdump on loopback needs root (CI runs as root)")
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "0", "-w", str(capture),
         f"tcp port {port}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    # Traffic sent before tcpdump says "listening" would be lost.
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stderr.readline()
        if "listening" in line:
            return proc
    proc.kill()
    pytest.fail("tcpdump did not start listening")


def test_loopback_http_matches_the_clients_log(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    sizes = {f"/f{i}.bin": 100 + 997 * i for i in range(12)}
    for path, size in sizes.items():
        (site / path[1:]).write_bytes(os.urandom(size))
    handler = lambda *a, **k: KeepAlive(*a, directory=str(site), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    capture = tmp_path / "lo.pcap"
    tcpdump = start_tcpdump(capture, port)
    log = []  # (uri, status, body bytes, sent_ns, done_ns) as the client saw it
    try:
        for round_ in range(2):  # two keep-alive connections, one request after another
            conn = http.client.HTTPConnection("127.0.0.1", port)
            for uri in list(sizes) + ["/missing"]:
                sent = time.time_ns()
                conn.request("GET", uri)
                response = conn.getresponse()
                body = response.read()
                log.append((uri, response.status, len(body), sent, time.time_ns()))
            conn.close()
        time.sleep(0.5)  # let the last packets reach the file
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        server.shutdown()
    # A loaded machine can make the kernel drop packets: then the capture, not the analysis,
    # is incomplete, and the test says so.
    report = tcpdump.stderr.read()
    assert re.search(r"^0 packets dropped by kernel", report, re.M), report
    table = tracetail.http(capture)
    rows = sorted(
        zip(
            table.column("request_first_ts").cast("int64").to_pylist(),
            table.column("uri").to_pylist(),
            table.column("status").to_pylist(),
            table.column("response_body_bytes").to_pylist(),
            table.column("response_last_ts").cast("int64").to_pylist(),
            table.column("ttfb_ns").to_pylist(),
        )
    )
    assert len(rows) == len(log)
    for (first, uri, status, body, last, ttfb), (uri_, status_, body_, sent, done) in zip(rows, log):
        assert (uri, status) == (uri_, status_)
        if status == 200:
            assert body == body_ == sizes[uri]
        # The capture saw the request after the client sent it, and the response before the
        # client had read it all (the kernel's clock for both; slack for clock reads).
        assert sent - 1_000_000 <= first <= last <= done + 1_000_000
        assert 0 <= ttfb <= done - sent + 1_000_000
    assert table.column("server_port").to_pylist() == [port] * len(log)
    assert all(flags == [] for flags in table.column("flags").to_pylist())
