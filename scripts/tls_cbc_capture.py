#!/usr/bin/env python3
"""Real TLS 1.2 AES-CBC and TLS 1.3 HelloRetryRequest traffic on loopback, captured with
tcpdump, for tests/tls.rs.

Starts one `openssl s_server -HTTP` per case on 127.0.0.1 (a self-signed certificate, one
cipher suite, `-keylogfile`), starts tcpdump on `lo` for their ports (waiting for
"listening"), runs one client per case (`openssl s_client`, or curl when installed), stops
tcpdump and prints a JSON manifest:

    python3 scripts/tls_cbc_capture.py --workdir /tmp/tlscbc > manifest.json
    tracetail http --keylog /tmp/tlscbc/keys-*.txt /tmp/tlscbc/tls.pcap

Cases:
  * TLS 1.2 CBC suites with HMAC-SHA1, -SHA256 and -SHA384, with encrypt-then-MAC (the
    default of both OpenSSL ends) and without (`s_client -no_etm`);
  * TLS 1.3 HelloRetryRequest: the server accepts only X25519 (`-groups X25519`), the client
    sends a P-256 key share first (`-groups P-256:X25519`).

Manifest: {pcap, keylogs, tcpdump, cases: [{name, client_port, suite, etm, hrr, path,
status, keylog}]}.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tls_capture import free_port, prepare_workdir, start_tcpdump  # noqa: E402

# (name, OpenSSL suite, IANA name, encrypt-then-MAC, client)
CBC_CASES = [
    ("aes128-sha256-etm", "AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", True, "curl"),
    ("aes128-sha256-mte", "AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", False, "openssl"),
    ("ecdhe-aes256-sha-etm", "ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
     True, "openssl"),
    ("ecdhe-aes256-sha-mte", "ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
     False, "openssl"),
    ("ecdhe-aes256-sha384-mte", "ECDHE-RSA-AES256-SHA384",
     "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", False, "openssl"),
    ("aes128-sha-etm", "AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", True, "openssl"),
]


def start_server(work, name, cert, key, extra):
    """`openssl s_server -HTTP` serving files from `work`; waits for its ACCEPT line."""
    port = free_port()
    keylog = os.path.join(work, f"keys-{name}.txt")
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert, "-key", key,
         "-HTTP", "-keylogfile", keylog, "-naccept", "1"] + extra,
        cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in proc.stdout:  # "Using default temp DH parameters" may come first
        seen.append(line)
        if "ACCEPT" in line or len(seen) > 5:
            break
    if not seen or "ACCEPT" not in seen[-1]:
        proc.kill()
        sys.exit(f"s_server {name} did not start: {seen}")
    return proc, port, keylog


def openssl_get(port, path, extra):
    """One GET through `openssl s_client`; returns (local port, status)."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-ign_eof", "-quiet"] + extra,
        input=f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n",
        capture_output=True, text=True, timeout=20,
    )
    status = int(proc.stdout.split(" ", 2)[1]) if proc.stdout.startswith("HTTP/") else 0
    return status


def curl_get(port, path, suite):
    out = subprocess.run(
        ["curl", "-sk", "--http1.1", "--tls-max", "1.2", "--ciphers", suite, "--resolve",
         f"localhost:{port}:127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}",
         f"https://localhost:{port}{path}"],
        capture_output=True, text=True, timeout=20,
    )
    return int(out.stdout or 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    work, cert, key = prepare_workdir(args.workdir)
    # `s_server -HTTP` sends the file as the whole response: a head with Content-Length (so
    # that tshark pairs it too) and a body spanning several records (16 KiB each).
    body = "0123456789abcdef" * 3000
    with open(os.path.join(work, "page.txt"), "w", newline="") as f:
        f.write(f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}"
                f"\r\n\r\n{body}")

    have_curl = shutil.which("curl") is not None
    servers = []
    for name, suite, iana, etm, client in CBC_CASES:
        if client == "curl" and not have_curl:
            client = "openssl"
        proc, port, keylog = start_server(work, name, cert, key, ["-tls1_2", "-cipher", suite])
        servers.append((proc, port, keylog, dict(name=name, suite=iana, etm=etm, hrr=False,
                                                  client=client, openssl_suite=suite)))
    proc, port, keylog = start_server(work, "hrr", cert, key, ["-tls1_3", "-groups", "X25519"])
    servers.append((proc, port, keylog, dict(name="hrr", suite="TLS_AES_256_GCM_SHA384",
                                              etm=False, hrr=True, client="openssl")))

    pcap = os.path.join(work, "tls.pcap")
    tcpdump = start_tcpdump(pcap, [s[1] for s in servers])
    cases = []
    try:
        for proc, port, keylog, case in servers:
            path = "/page.txt"
            if case["hrr"]:
                status = openssl_get(port, path, ["-tls1_3", "-groups", "P-256:X25519"])
            elif case["client"] == "curl":
                status = curl_get(port, path, case["openssl_suite"])
            else:
                extra = ["-tls1_2", "-cipher", case["openssl_suite"]]
                if not case["etm"]:
                    extra.append("-no_etm")
                status = openssl_get(port, path, extra)
            proc.wait(timeout=10)
            cases.append(dict(case, server_port=port, path=path, status=status,
                              keylog=keylog))
    finally:
        time.sleep(0.3)
        tcpdump.send_signal(signal.SIGINT)
        _, stats = tcpdump.communicate(timeout=10)
        for proc, *_ in servers:
            if proc.poll() is None:
                proc.kill()
    json.dump({"pcap": pcap, "tcpdump": stats, "cases": cases,
               "keylogs": [c["keylog"] for c in cases]}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
