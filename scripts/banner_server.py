#!/usr/bin/env python3
"""A server that speaks first, as SMTP, FTP and MySQL do, and a client that talks to it, on
loopback: ground truth for `tracetail tcp` (tests/tcp_real.rs).

The server greets each connection with a `220` banner, then answers every command line after
a delay that depends on the command (long for odd commands, short for even ones), with a reply
whose length also depends on it. A pairing shifted by one (the greeting taken as the answer to
the first command) would give every command the wrong delay and reply size. The client opens
--connections connections one after the other, reads the banner, sends --commands commands on
each (waiting for each reply) and prints a JSON manifest: for each connection its client
port, the banner's size and, per command, the bytes sent, the bytes received and the server's
delay. Standard library only.
"""
import argparse
import json
import socket
import threading
import time

BANNER = b"220 tracetail-test ESMTP ready\r\n"


def delay_ms(n):
    return 40 if n % 2 else 3


def reply(n):
    return b"250 " + b"ok " * (n % 5 + 1) + str(n).encode() + b"\r\n"


def serve_one(conn):
    with conn:
        conn.sendall(BANNER)
        buf = b""
        n = 0
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                if line == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                n += 1
                time.sleep(delay_ms(n) / 1000)
                conn.sendall(reply(n))


def read_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("server closed early")
        data += chunk
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=3)
    ap.add_argument("--commands", type=int, default=6)
    args = ap.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)

    def accept_loop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()

    connections = []
    for c in range(args.connections):
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        banner = read_line(sock)
        commands = []
        for n in range(1, args.commands + 1):
            line = f"NOOP c{c} n{n} " .encode() + b"x" * (n * 3) + b"\r\n"
            sock.sendall(line)
            answer = read_line(sock)
            assert answer == reply(n), (answer, reply(n))
            commands.append(
                {"request_bytes": len(line), "response_bytes": len(answer), "delay_ms": delay_ms(n)}
            )
        sock.sendall(b"QUIT\r\n")
        bye = read_line(sock)
        commands.append({"request_bytes": 6, "response_bytes": len(bye), "delay_ms": 0})
        connections.append(
            {"client_port": sock.getsockname()[1], "banner_bytes": len(banner), "commands": commands}
        )
        sock.close()
    listener.close()
    print(json.dumps({"port": args.port, "connections": connections}))


if __name__ == "__main__":
    main()
