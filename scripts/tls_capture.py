#!/usr/bin/env python3
"""Real HTTPS traffic on loopback, captured with tcpdump, for tests/tls.rs.

Makes a self-signed RSA certificate with `openssl req`, starts an HTTP/1.1 server (http.server,
keep-alive) behind Python's `ssl` on 127.0.0.1 (ALPN http/1.1; TLS 1.2 suites ECDHE-RSA and
RSA key exchange with AES-GCM and ChaCha20-Poly1305), starts tcpdump on `lo` for its port
(waiting for "listening"), runs real clients that write NSS key logs, stops tcpdump and
prints a JSON manifest:

    python3 scripts/tls_capture.py --workdir /tmp/tlscap > manifest.json
    tracetail http --keylog /tmp/tlscap/keys-python.txt ... /tmp/tlscap/tls.pcap

Clients (each writes its own key log in the workdir):
  * Python `ssl` (keylog_filename): TLS 1.3 keep-alive connection with a small, a 300 kB
    (many records) and a 404 response; one TLS 1.2 connection per suite, one request each;
    TLS 1.3 and TLS 1.2 session resumption (a second connection reusing the session);
  * curl (SSLKEYLOGFILE), if installed: TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256 and with
    TLS_AES_128_GCM_SHA256, two URLs on one reused connection each;
  * `openssl s_client -keylogfile`: TLS 1.3, a request, a KeyUpdate (`k`), another request.

Manifest: {port, pcap, keylogs: [...], tcpdump: "...", requests: [{client, keylog, path,
status, body_bytes, version, cipher, connection}]}; `connection` names the TLS connection
(requests sharing it were sent on it in that order).
"""
import argparse
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

TLS12_SUITES = [
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            n = int(self.path.rsplit("/", 1)[1])
            body = (b"0123456789abcdef" * (n // 16 + 1))[:n]
            self.send_response(200)
        else:
            body = b"not here\n"
            self.send_response(404)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_context(keylog, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keylog
    ctx.minimum_version = version
    ctx.maximum_version = version
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class SessionConnection(http.client.HTTPSConnection):
    """HTTPSConnection that sends SNI `localhost` to 127.0.0.1 and can resume a session."""

    def __init__(self, port, context, session=None):
        super().__init__("127.0.0.1", port, context=context)
        self.resume = session

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(
            self.sock, server_hostname="localhost", session=self.resume
        )


def python_requests(port, ctx, paths, name, manifest, session=None):
    """GETs `paths` on one connection; returns the session for resumption."""
    keylog = ctx.keylog_filename
    conn = SessionConnection(port, ctx, session)
    for path in paths:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        body = response.read()
        manifest.append(
            {
                "client": "python",
                "keylog": keylog,
                "path": path,
                "status": response.status,
                "body_bytes": len(body),
                "version": conn.sock.version(),
                "cipher": conn.sock.cipher()[0],
                "connection": name,
                "resumed": conn.sock.session_reused,
            }
        )
    session = conn.sock.session
    conn.close()
    return session


def python_tls12_suite(port, keylog, suite, manifest):
    ctx = client_context(keylog, ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers(suite)
    conn = SessionConnection(port, ctx)
    conn.request("GET", "/bytes/1000", headers={"Host": "localhost"})
    response = conn.getresponse()
    body = response.read()
    manifest.append(
        {
            "client": "python",
            "keylog": keylog,
            "path": "/bytes/1000",
            "status": response.status,
            "body_bytes": len(body),
            "version": conn.sock.version(),
            "cipher": conn.sock.cipher()[0],
            "connection": f"python-tls12-{suite}",
            "resumed": False,
        }
    )
    conn.close()


def curl_requests(port, keylog, suite, manifest):
    curl = shutil.which("curl")
    if not curl:
        return False
    base = f"https://localhost:{port}"
    paths = ["/bytes/20", "/bytes/70000"]
    out = subprocess.run(
        [curl, "-sk", "--http1.1", "--tlsv1.3", "--tls13-ciphers", suite,
         "--resolve", f"localhost:{port}:127.0.0.1", "-o", "/dev/null", "-o", "/dev/null",
         "-w", "%{http_code} %{url_effective}\\n"] + [base + p for p in paths],
        env=dict(os.environ, SSLKEYLOGFILE=keylog),
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout
    for line in out.splitlines():
        status, url = line.split(" ", 1)
        path = url[len(base):]
        manifest.append(
            {
                "client": "curl",
                "keylog": keylog,
                "path": path,
                "status": int(status),
                "body_bytes": int(path.rsplit("/", 1)[1]),
                "version": "TLSv1.3",
                "cipher": suite,
                "connection": f"curl-{suite}",
                "resumed": False,
            }
        )
    return True


def openssl_key_update(port, keylog, manifest):
    """TLS 1.3 with s_client: a request, a KeyUpdate (`k`), another request. (No
    -ign_eof: it turns the command letters off.)"""
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-tls1_3", "-keylogfile", keylog, "-crlf"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    request = "GET /bytes/{} HTTP/1.1\nHost: localhost\n\n"
    proc.stdin.write(request.format(30))
    proc.stdin.flush()
    time.sleep(0.4)
    proc.stdin.write("k\n")
    proc.stdin.flush()
    time.sleep(0.4)
    proc.stdin.write(request.format(40))
    proc.stdin.flush()
    time.sleep(0.4)
    proc.stdin.write("Q\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=10)
    # Bodies end without a newline: a status line may follow one on the same line.
    statuses = re.findall(r"HTTP/1\.1 (\d{3}) ", out)
    for path, status in zip(["/bytes/30", "/bytes/40"], statuses):
        manifest.append(
            {
                "client": "openssl",
                "keylog": keylog,
                "path": path,
                "status": int(status),
                "body_bytes": int(path.rsplit("/", 1)[1]),
                "version": "TLSv1.3",
                "cipher": None,
                "connection": "openssl-key-update",
                "resumed": False,
            }
        )


def start_tcpdump(pcap, ports):
    """tcpdump on `lo` for TCP on `ports` (one or a list), once it says "listening"."""
    ports = ports if isinstance(ports, list) else [ports]
    expr = " or ".join(f"port {p}" for p in ports)
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-B", "32768", "-s", "0", "-w", pcap,
         f"tcp and ({expr})"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline()
    if "listening" not in line:
        proc.kill()
        sys.exit(f"tcpdump did not start: {line}")
    return proc


def prepare_workdir(workdir):
    """The work directory, without old key logs, with a self-signed certificate for
    `localhost`: returns (work, cert, key)."""
    work = os.path.abspath(workdir)
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):
        if name.startswith("keys-"):
            os.remove(os.path.join(work, name))
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=30,
    )
    return work, cert, key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    work, cert, key = prepare_workdir(args.workdir)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.set_ciphers(":".join(TLS12_SUITES))
    server_ctx.set_alpn_protocols(["http/1.1"])
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    pcap = os.path.join(work, "tls.pcap")
    tcpdump = start_tcpdump(pcap, port)
    try:
        manifest, curl = run_clients(port, work)
    finally:
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        _, stats = tcpdump.communicate(timeout=10)
        httpd.shutdown()
    keys = lambda name: os.path.join(work, f"keys-{name}.txt")
    keylogs = sorted(keys(n) for n in ["python", "curl", "openssl"] if os.path.exists(keys(n)))
    json.dump({"port": port, "pcap": pcap, "keylogs": keylogs, "curl": curl,
               "tcpdump": stats, "requests": manifest}, sys.stdout, indent=1)


def run_clients(port, work):
    manifest = []
    keys = lambda name: os.path.join(work, f"keys-{name}.txt")
    tls13, tls12 = ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2

    ctx13 = client_context(keys("python"), tls13)
    session = python_requests(port, ctx13, ["/bytes/10", "/bytes/300000", "/missing"],
                              "python-tls13-keepalive", manifest)
    python_requests(port, ctx13, ["/bytes/11"], "python-tls13-resumed", manifest, session)
    for suite in TLS12_SUITES:
        python_tls12_suite(port, keys("python"), suite, manifest)
    ctx12 = client_context(keys("python"), tls12)
    session = python_requests(port, ctx12, ["/bytes/12"], "python-tls12-first", manifest)
    python_requests(port, ctx12, ["/bytes/13"], "python-tls12-resumed", manifest, session)
    curl = curl_requests(port, keys("curl"), "TLS_CHACHA20_POLY1305_SHA256", manifest)
    if curl:
        curl_requests(port, keys("curl"), "TLS_AES_128_GCM_SHA256", manifest)
    openssl_key_update(port, keys("openssl"), manifest)
    return manifest, curl


if __name__ == "__main__":
    main()
