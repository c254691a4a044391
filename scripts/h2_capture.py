#!/usr/bin/env python3
"""Real HTTP/2 traffic on loopback, captured with tcpdump, for tests/http2_real.rs.

Starts nginx with two servers on 127.0.0.1: `listen PORT ssl http2` (a self-signed cert made
with `openssl req`) and `listen PORT http2` (cleartext h2c, prior knowledge); starts tcpdump on
`lo` for both ports (waiting for "listening"); drives them with curl:

  * TLS: `curl --http2 --parallel --parallel-max 50` over many URLs on one connection (small
    files, 1 MB and 4 MB files, 404s), keys in SSLKEYLOGFILE; a second connection POSTs a
    64 kB body to several URLs (request DATA frames, 405 answers);
  * h2c: `nghttp -n -s` over the same URL set, multiplexed on one connection (its summary
    gives stream id, status and path per request), and `curl --http2-prior-knowledge
    --parallel --parallel-immediate` (one connection per URL: curl 7.88 fails a second
    transfer on a reused prior-knowledge connection with "Error in the HTTP2 framing layer");
    `h2load -n 60 -c 1 -m 4` (one connection, 4 streams at a time, URIs in round robin, so
    requests keep coming while the HPACK table fills: the mid-connection test cuts into it).
  * Upgrade (when the Python `h2` package is installed): `curl --http2` on http:// against a
    small h2 server (scripts' own, below) that answers `Upgrade: h2c` with 101 and the
    response on stream 1, and sends one PING; then more requests on the same connection.

Each curl run writes `-w '%{http_code} %{exitcode} %{local_port} %{url_effective}\\n'`: that
is the client's record of every request. curl keeps no status for a transfer it gave up on
(http_code 0: nginx answers a POST to a static file with 405 at once and resets the rest of the
upload, which curl 7.88 may report as exit 92 before it stores the 405); such a request takes
its status from nginx's own access log, matched by (server port, client port, path), and says
so with `status_from: "nginx"` and `curl_exit`. Prints a JSON manifest: {pcap, keylog, tcpdump,
upgrade (whether that part ran), ports: {tls, h2c, upgrade}, requests: [{mode, port, path,
status, ...}]}.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

SMALL = [f"/s{i}.txt" for i in range(40)]
LARGE = ["/big1m.bin", "/big4m.bin"]
MISSING = [f"/missing{i}" for i in range(5)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_site(www):
    os.makedirs(www, exist_ok=True)
    for i, path in enumerate(SMALL):
        with open(www + path, "w") as f:
            f.write(f"small file {i}\n" * (i * 7 + 1))
    for path, size in zip(LARGE, [1 << 20, 4 << 20]):
        with open(www + path, "wb") as f:
            f.write(os.urandom(size))


def make_cert(work):
    """A self-signed certificate for nginx's TLS server: (cert, key) paths."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


def start_nginx(work, tls_port, h2c_port, cert, key, h1_port=None):
    conf = os.path.join(work, "nginx.conf")
    temp = os.path.join(work, "tmp")
    os.makedirs(temp, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format tracetail '$server_port $remote_port $request_method $status $uri';
    access_log {work}/access.log tracetail;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    server {{
        listen 127.0.0.1:{tls_port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {work}/www;
    }}
    server {{
        listen 127.0.0.1:{h2c_port} http2;
        root {work}/www;
    }}
    {"" if h1_port is None else f"server {{ listen 127.0.0.1:{h1_port}; root {work}/www; }}"}
    {"" if h1_port is None else "keepalive_requests 1000000;"}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", work, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for port in (tls_port, h2c_port) + (() if h1_port is None else (h1_port,)):
        wait_port(port, proc)
    return proc


def statuses_from_nginx(access_log, requests):
    """Fills the status of each request curl kept none for from nginx's log (its own record of
    what it answered), matched by (server port, client port, path); exits if none or two match."""
    lost = [r for r in requests if r["status"] == 0 and "client_port" in r]
    if not lost:
        return
    logged = {}
    with open(access_log) as f:
        for line in f:
            server, client, _method, status, path = line.split(" ", 4)
            logged.setdefault((int(server), int(client), path.rstrip("\n")), []).append(int(status))
    for r in lost:
        found = logged.get((r["port"], r["client_port"], r["path"]), [])
        if len(found) != 1:
            sys.exit(f"curl kept no status for {r} and nginx logged {found}")
        r["status"] = found[0]
        r["status_from"] = "nginx"


def wait_port(port, proc=None):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"server exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def start_tcpdump(pcap, ports, buffered=False):
    """`buffered`: for a bulk workload, tcpdump writes in blocks (a write per packet drops)."""
    flt = " or ".join(f"tcp port {p}" for p in ports)
    flags = ["-B", "262144"] if buffered else ["-U", "--immediate-mode", "-B", "65536"]
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-n"] + flags + ["-s", "0", "-w", pcap, flt],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline()
    if "listening" not in line:
        proc.kill()
        sys.exit(f"tcpdump did not start: {line}")
    return proc


def curl(mode, port, urls, extra, env=None):
    """One curl run over `urls` (one connection, multiplexed); the client's own record."""
    cmd = ["curl", "-s", "-k", "--parallel", "--parallel-max", "50",
           "-w", "%{http_code} %{exitcode} %{local_port} %{url_effective}\\n"] + extra
    for u in urls:
        cmd += [u, "-o", "/dev/null"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    rows = []
    for line in out.stdout.splitlines():
        code, exitcode, local_port, url = line.split(" ", 3)
        row = {"mode": mode, "port": port, "path": urllib.parse.urlsplit(url).path,
               "status": int(code)}
        if row["status"] == 0:
            row["curl_exit"] = int(exitcode)
            row["client_port"] = int(local_port)
        rows.append(row)
    if len(rows) != len(urls):
        sys.exit(f"curl {mode}: {len(rows)} of {len(urls)} transfers: {out.stderr}")
    return rows


def nghttp(mode, port, urls):
    """nghttp's per-request summary (`-s`): stream id, status, path."""
    out = subprocess.run(["nghttp", "-n", "-s"] + urls, capture_output=True, text=True,
                         timeout=120)
    rows = []
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) == 7 and f[0].isdigit():
            rows.append({"mode": mode, "port": port, "stream_id": int(f[0]),
                         "status": int(f[4]), "path": f[6]})
    if len(rows) != len(urls):
        sys.exit(f"nghttp: {len(rows)} of {len(urls)} requests: {out.stdout} {out.stderr}")
    return rows


def h2load(mode, port, urls, n):
    """h2load's URIs in round robin; its own summary must agree (2xx and 4xx counts)."""
    out = subprocess.run(["h2load", "-n", str(n), "-c", "1", "-m", "4"] + urls,
                         capture_output=True, text=True, timeout=120)
    rows = [{"mode": mode, "port": port, "path": urllib.parse.urlsplit(urls[i % len(urls)]).path,
             "status": 404 if "/missing" in urls[i % len(urls)] else 200} for i in range(n)]
    codes = [l for l in out.stdout.splitlines() if l.startswith("status codes:")]
    ok = sum(r["status"] == 200 for r in rows)
    if codes != [f"status codes: {ok} 2xx, 0 3xx, {n - ok} 4xx, 0 5xx"]:
        sys.exit(f"h2load: {out.stdout} {out.stderr}")
    return rows


def upgrade_server(port, ready):
    """A small cleartext HTTP/2 server that accepts `Upgrade: h2c` (RFC 7540 §3.2)."""
    import h2.config
    import h2.connection
    import h2.events

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    ready.set()
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_upgrade, args=(sock,), daemon=True).start()


def serve_upgrade(sock):
    import h2.config
    import h2.connection
    import h2.events

    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    conn.initiate_upgrade_connection(headers.get("http2-settings", ""))
    respond(conn, 1, path)
    # A PING the client answers: one round trip for `sessions --json --http2`.
    conn.ping(b"tracetl1")
    sock.sendall(conn.data_to_send())
    data = rest
    while True:
        if data:
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    p = dict(event.headers).get(b":path", b"/").decode()
                    respond(conn, event.stream_id, p)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        data = sock.recv(65536)
        if not data:
            sock.close()
            return


def respond(conn, stream_id, path):
    status, body = ("200", (path + "\n").encode() * 50) if path.startswith("/s") else ("404", b"no\n")
    conn.send_headers(stream_id, [(":status", status), ("content-length", str(len(body)))])
    conn.send_data(stream_id, body, end_stream=True)


def bench(work, n):
    """The same h2load workload as HTTP/2 (h2c) and as HTTP/1.1 (`--h1`), one capture each.

    One nginx, one 2,000-byte file, `h2load -n N -c 1 -m 10` both times (with `--h1`, h2load
    pipelines up to 10 requests on its one keep-alive connection). Prints {h2, h1} pcap paths.
    """
    www = os.path.join(work, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "f2000.bin"), "wb") as f:
        f.write(os.urandom(2000))
    cert, key = make_cert(work)
    tls_port, h2c_port, h1_port = free_port(), free_port(), free_port()
    nginx = start_nginx(work, tls_port, h2c_port, cert, key, h1_port)
    pcaps = {}
    try:
        for name, port, extra in (("h2", h2c_port, []), ("h1", h1_port, ["--h1"])):
            pcap = os.path.join(work, f"bench-{name}.pcap")
            # A busy shared machine can make the kernel drop packets: only a whole capture
            # is compared, so try again (a few times) until tcpdump reports no drops.
            for attempt in range(5):
                tcpdump = start_tcpdump(pcap, [port], buffered=True)
                out = subprocess.run(["h2load", "-n", str(n), "-c", "1", "-m", "10"] + extra +
                                     [f"http://127.0.0.1:{port}/f2000.bin"],
                                     capture_output=True, text=True, timeout=600)
                # Buffered tcpdump hands over a partly filled block after its 1 s timeout.
                time.sleep(2)
                tcpdump.send_signal(signal.SIGINT)
                _, stats = tcpdump.communicate(timeout=30)
                if f"status codes: {n} 2xx" not in out.stdout:
                    sys.exit(f"h2load {name}: {out.stdout} {out.stderr}")
                if "\n0 packets dropped by kernel" in "\n" + stats:
                    break
                print(f"tcpdump {name} dropped packets, again: {stats}", file=sys.stderr)
            else:
                sys.exit(f"tcpdump {name} kept dropping packets")
            pcaps[name] = pcap
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
    json.dump(pcaps, sys.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--bench", type=int, metavar="N",
                        help="only the speed workload: N requests as HTTP/2 and as HTTP/1.1")
    args = parser.parse_args()
    if args.bench:
        work = os.path.abspath(args.workdir)
        os.makedirs(work, exist_ok=True)
        return bench(work, args.bench)
    try:
        import h2  # noqa: F401
        args.upgrade = True
    except ImportError:
        args.upgrade = False
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    make_site(os.path.join(work, "www"))
    cert, key = make_cert(work)
    tls_port, h2c_port, up_port = free_port(), free_port(), free_port()
    nginx = start_nginx(work, tls_port, h2c_port, cert, key)
    if args.upgrade:
        ready = threading.Event()
        threading.Thread(target=upgrade_server, args=(up_port, ready), daemon=True).start()
        ready.wait(10)
    keylog = os.path.join(work, "keys.txt")
    if os.path.exists(keylog):
        os.remove(keylog)
    pcap = os.path.join(work, "h2.pcap")
    tcpdump = start_tcpdump(pcap, [tls_port, h2c_port, up_port])
    paths = SMALL + LARGE + MISSING
    requests = []
    try:
        env = dict(os.environ, SSLKEYLOGFILE=keylog)
        base = f"https://localhost:{tls_port}"
        requests += curl("tls", tls_port, [base + p for p in paths], ["--http2"], env)
        body = os.path.join(work, "body.bin")
        with open(body, "wb") as f:
            f.write(os.urandom(64 << 10))
        requests += curl("tls-post", tls_port, [base + p for p in SMALL[:6]],
                         ["--http2", "--data-binary", "@" + body], env)
        base = f"http://127.0.0.1:{h2c_port}"
        requests += nghttp("h2c", h2c_port, [base + p for p in paths])
        requests += h2load("h2load", h2c_port, [base + p for p in SMALL[:10] + MISSING[:2]], 60)
        requests += curl("h2c-curl", h2c_port, [base + p for p in SMALL[:5] + MISSING[:1]],
                         ["--http2-prior-knowledge", "--parallel-immediate"])
        if args.upgrade:
            base = f"http://127.0.0.1:{up_port}"
            # Not parallel: curl upgrades the first request, then reuses the connection.
            requests += curl("upgrade", up_port, [base + p for p in SMALL[:4] + MISSING[:1]],
                             ["--http2", "--parallel-max", "1"])
    finally:
        time.sleep(0.5)
        tcpdump.send_signal(signal.SIGINT)
        _, stats = tcpdump.communicate(timeout=10)
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
    statuses_from_nginx(os.path.join(work, "access.log"), requests)
    json.dump({"pcap": pcap, "keylog": keylog, "tcpdump": stats, "upgrade": args.upgrade,
               "ports": {"tls": tls_port, "h2c": h2c_port, "upgrade": up_port},
               "requests": requests}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
