#!/usr/bin/env python3
"""Real HTTP traffic on loopback, for a capture that tracetail then analyses.

Starts a real HTTP/1.1 server (http.server, keep-alive on) on 127.0.0.1 and, when it can bind
it, ::1, then runs real clients against it and prints a JSON manifest of every request the
clients sent and the status and body size they got back. Capture it yourself:

    tcpdump -i lo -U -s 0 -w /tmp/real.pcap 'tcp port 8765' &
    python3 scripts/real_capture.py --port 8765 --workdir /tmp/realcap > manifest.json
    kill -INT %1
    tracetail http /tmp/real.pcap --json

tests/real_capture.rs does exactly this and compares tracetail's transactions with the
manifest. Every request carries a unique `?n=<id>` query so a transaction names its request
unambiguously; the server ignores queries.

The clients (all concurrent, to interleave connections in the capture):
  * three http.client keep-alive connections, each sending GET (small, 200 KB, empty), HEAD,
    a conditional GET answered 304 (no body, no Content-Length), a POST with a body, a chunked
    response, a 404 (the server closes after it; http.client reconnects), then one more GET;
  * one raw socket that PIPELINES five requests (one answered 304) in a single send();
  * curl with several URLs on one reused connection, if curl is installed;
  * http.client over ::1 if the server could bind it.

Standard library only. Manifest keys: port, ipv6, curl, requests: [{client, client_ip,
client_port, method, uri, status, body_bytes, chunked, order}] where order is the request's
position in its connection's send order.
"""
import argparse
import email.utils
import http.client
import http.server
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

SOCKET_TIMEOUT_S = 10
FILES = {
    "index.html": 300,
    "medium.html": 5_000,
    "big.bin": 200_000,
    "tiny.txt": 10,
    "empty.txt": 0,
}
POST_BODY = b"x" * 1500
CHUNKS = [b"first chunk\n", b"y" * 3000, b"last\n"]


# ---------------------------------------------------------------------------------------- server


class Handler(http.server.SimpleHTTPRequestHandler):
    # HTTP/1.1 so connections stay open between requests and pipelining really happens.
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass

    def do_POST(self):
        # Read the whole body before answering: closing with unread bytes would make the
        # kernel send RST and could discard the response at the client.
        length = int(self.headers.get("Content-Length", "0"))
        received = self.rfile.read(length)
        body = json.dumps({"received": len(received)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        super().do_GET()


def serve(args):
    """Serve args.root on 127.0.0.1 (and ::1 if possible) until stdin closes."""
    handler = lambda *a, **kw: Handler(*a, directory=args.root, **kw)  # noqa: E731
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)]

    class V6Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    try:
        servers.append(V6Server(("::1", args.port), handler))
    except OSError as e:
        print(f"no IPv6 server: {e}", file=sys.stderr)
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps({"ready": True, "ipv6": len(servers) > 1}), flush=True)
    # The parent closing our stdin (or dying) is the stop signal.
    sys.stdin.read()
    for s in servers:
        s.shutdown()
        s.server_close()


# --------------------------------------------------------------------------------------- clients


class Ids:
    """Unique request ids, shared by all client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next = 0

    def take(self):
        with self.lock:
            self.next += 1
            return self.next


def keepalive_client(name, host, port, ids, plan):
    """http.client on one HTTPConnection; it reconnects by itself after `Connection: close`."""
    records = []
    conn = http.client.HTTPConnection(host, port, timeout=SOCKET_TIMEOUT_S)
    order = {}
    try:
        for method, path, headers, body in plan:
            uri = f"{path}?n={ids.take()}"
            conn.request(method, uri, body=body, headers=headers)
            client_ip, client_port = conn.sock.getsockname()[:2]
            resp = conn.getresponse()
            data = resp.read()
            key = (client_ip, client_port)
            order[key] = order.get(key, -1) + 1
            records.append(
                {
                    "client": name,
                    "client_ip": client_ip,
                    "client_port": client_port,
                    "method": method,
                    "uri": uri,
                    "status": resp.status,
                    "body_bytes": len(data),
                    "chunked": resp.chunked,
                    "order": order[key],
                }
            )
    finally:
        conn.close()
    return records


def keepalive_plan():
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    return [
        ("GET", "/index.html", {}, None),
        ("GET", "/big.bin", {}, None),
        ("HEAD", "/medium.html", {}, None),
        ("GET", "/medium.html", {"If-Modified-Since": future}, None),  # 304, no body
        ("POST", "/submit", {"Content-Type": "application/octet-stream"}, POST_BODY),
        ("GET", "/chunked", {}, None),
        ("GET", "/empty.txt", {}, None),
        ("GET", "/missing", {}, None),  # 404; server closes, next request reconnects
        ("GET", "/tiny.txt", {}, None),
    ]


def read_response(f, method):
    """One HTTP/1.1 response from a buffered socket file: (status, body bytes, chunked)."""
    status_line = f.readline()
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, 0, False
    if headers.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return status, total, True
            total += len(f.read(size))
            f.read(2)
    length = int(headers.get("content-length", "0"))
    body = f.read(length)
    if len(body) != length:
        raise RuntimeError(f"short body: {len(body)} of {length}")
    return status, length, False


def pipelined_client(host, port, ids):
    """Five requests in ONE send() on one connection; responses read back in order."""
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    # Different statuses and body sizes, so a response paired with the wrong request shows.
    plan = [
        ("GET", "/tiny.txt", ""),
        ("GET", "/big.bin", ""),
        ("GET", "/medium.html", f"If-Modified-Since: {future}\r\n"),
        ("HEAD", "/medium.html", ""),
        ("GET", "/index.html", "Connection: close\r\n"),
    ]
    sock = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S)
    client_ip, client_port = sock.getsockname()[:2]
    uris = [f"{path}?n={ids.take()}" for _, path, _ in plan]
    wire = b"".join(
        f"{method} {uri} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
        for (method, _, extra), uri in zip(plan, uris)
    )
    sock.sendall(wire)
    f = sock.makefile("rb")
    records = []
    try:
        for i, ((method, _, _), uri) in enumerate(zip(plan, uris)):
            status, body_bytes, chunked = read_response(f, method)
            records.append(
                {
                    "client": "pipelined",
                    "client_ip": client_ip,
                    "client_port": client_port,
                    "method": method,
                    "uri": uri,
                    "status": status,
                    "body_bytes": body_bytes,
                    "chunked": chunked,
                    "order": i,
                }
            )
    finally:
        f.close()
        sock.close()
    return records


def curl_client(curl, host_in_url, port, ids):
    """curl with several URLs: it reuses one connection (and reconnects after the 404)."""
    paths = ["/index.html", "/big.bin", "/missing", "/tiny.txt", "/medium.html"]
    uris = [f"{p}?n={ids.take()}" for p in paths]
    cmd = [curl, "--silent", "--globoff", "--max-time", str(SOCKET_TIMEOUT_S)]
    cmd += ["--write-out", "%{http_code} %{local_ip} %{local_port} %{size_download}\\n"]
    for uri in uris:
        cmd += ["--output", os.devnull, f"http://{host_in_url}:{port}{uri}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SOCKET_TIMEOUT_S * 2, check=True)
    lines = out.stdout.strip().splitlines()
    if len(lines) != len(uris):
        raise RuntimeError(f"curl printed {len(lines)} results for {len(uris)} URLs: {out.stdout!r}")
    records, order = [], {}
    for uri, line in zip(uris, lines):
        status, ip, cport, size = line.split()
        key = (ip, int(cport))
        order[key] = order.get(key, -1) + 1
        records.append(
            {
                "client": "curl",
                "client_ip": ip,
                "client_port": int(cport),
                "method": "GET",
                "uri": uri,
                "status": int(status),
                "body_bytes": int(size),
                "chunked": False,
                "order": order[key],
            }
        )
    return records


# ------------------------------------------------------------------------------------------ main


def make_files(root):
    os.makedirs(root, exist_ok=True)
    rng = random.Random(20240611)
    for name, size in FILES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(size)))


def run(args):
    root = os.path.join(args.workdir, "www")
    make_files(root)
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "serve", "--port", str(args.port), "--root", root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(server.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise RuntimeError("server did not start")
        ids = Ids()
        jobs = [(keepalive_client, (f"keepalive-{i}", "127.0.0.1", args.port, ids, keepalive_plan())) for i in range(3)]
        jobs.append((pipelined_client, ("127.0.0.1", args.port, ids)))
        curl = shutil.which("curl")
        if curl:
            jobs.append((curl_client, (curl, "127.0.0.1", args.port, ids)))
        if ready["ipv6"]:
            jobs.append((keepalive_client, ("keepalive-v6", "::1", args.port, ids, keepalive_plan()[:4])))
            if curl:
                jobs.append((curl_client, (curl, "[::1]", args.port, ids)))
        results, errors = [None] * len(jobs), []

        def work(i, fn, fn_args):
            try:
                results[i] = fn(*fn_args)
            except Exception as e:  # reported below; a thread must not die silently
                errors.append(f"{fn.__name__}{fn_args[:1]}: {e!r}")

        threads = [threading.Thread(target=work, args=(i, fn, a)) for i, (fn, a) in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SOCKET_TIMEOUT_S * 3)
        if errors or any(t.is_alive() for t in threads):
            raise RuntimeError(f"client failures: {errors or 'timeout'}")
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    requests = [r for rs in results for r in rs]
    manifest = {"port": args.port, "ipv6": ready["ipv6"], "curl": bool(curl), "requests": requests}
    json.dump(manifest, sys.stdout, indent=1)
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="internal: the server process")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workdir", default="/tmp/tracetail-real-capture")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
