#!/usr/bin/env python3
"""Real gRPC traffic on loopback, captured with tcpdump, for tests/grpc_real.rs.

A Python `grpcio` server and client in one process, no protoc: generic handlers with bytes
in and out (no serializers), served as cleartext HTTP/2 (h2c, prior knowledge) on 127.0.0.1.
tcpdump on `lo` for the port is started first (waiting for "listening"). The client makes,
on one channel (one HTTP/2 connection, calls multiplexed when concurrent):

  * unary calls (`Echo`), server-streaming (`Fanout`, N responses), client-streaming
    (`Collect`, M requests), bidirectional (`Chat`, K each way);
  * an error status with a message (`Lookup` aborts with NOT_FOUND "no such thing ü …",
    non-ASCII so that grpc-message is percent-encoded on the wire);
  * a deadline exceeded (`Slow` sleeps past the client's 300 ms timeout);
  * several calls at once from threads (multiplexed streams).

Each call's record is what the client itself saw: method, status code (grpc.StatusCode),
details, and the messages it sent and received. Prints a JSON manifest:
{port, pcap, tcpdump, calls: [{service, method, status, message, request_messages,
response_messages, kind}]}.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

# Same tcpdump start (waiting for "listening") and port choice as the TLS capture.
from tls_capture import free_port, start_tcpdump

SERVICE = "tracetail.test.Lab"
NOT_FOUND_MESSAGE = "no such thing ü: 100% gone"


# ---- server: generic handlers, bytes in and out ----

def echo(request, context):
    return b"echo:" + request


def fanout(request, context):
    n = int(request)
    for i in range(n):
        yield b"item %d " % i + b"x" * (i * 100)


def collect(request_iterator, context):
    count = sum(1 for _ in request_iterator)
    return b"got %d" % count


def chat(request_iterator, context):
    for message in request_iterator:
        yield b"re:" + message


def lookup(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, NOT_FOUND_MESSAGE)


def slow(request, context):
    time.sleep(1.5)
    return b"too late"


def start_server(port):
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Fanout": grpc.unary_stream_rpc_method_handler(fanout),
        "Collect": grpc.stream_unary_rpc_method_handler(collect),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Lookup": grpc.unary_unary_rpc_method_handler(lookup),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


# ---- client: each call recorded as the client saw it ----

class Recorder:
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def add(self, kind, method, code, details, sent, received):
        with self.lock:
            self.calls.append({
                "kind": kind,
                "service": SERVICE,
                "method": method,
                "status": code.value[0],
                "status_name": code.name,
                "message": details,
                "request_messages": sent,
                "response_messages": received,
            })


def path(method):
    return f"/{SERVICE}/{method}"


def unary(channel, rec, method, payload, timeout=None, kind="unary"):
    call = channel.unary_unary(path(method))
    try:
        call(payload, timeout=timeout)
        rec.add(kind, method, grpc.StatusCode.OK, None, 1, 1)
    except grpc.RpcError as e:
        rec.add(kind, method, e.code(), e.details(), 1, 0)


def server_streaming(channel, rec, n):
    received = sum(1 for _ in channel.unary_stream(path("Fanout"))(b"%d" % n))
    rec.add("server-streaming", "Fanout", grpc.StatusCode.OK, None, 1, received)


def client_streaming(channel, rec, m):
    sent = [0]

    def requests():
        for i in range(m):
            sent[0] += 1
            yield b"part %d" % i

    reply = channel.stream_unary(path("Collect"))(requests())
    assert reply == b"got %d" % m, reply
    rec.add("client-streaming", "Collect", grpc.StatusCode.OK, None, sent[0], 1)


def bidi(channel, rec, k):
    requests = (b"msg %d" % i for i in range(k))
    received = sum(1 for _ in channel.stream_stream(path("Chat"))(requests))
    rec.add("bidi", "Chat", grpc.StatusCode.OK, None, k, received)


def run_clients(port):
    rec = Recorder()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        unary(channel, rec, "Echo", b"hello")
        server_streaming(channel, rec, 7)
        client_streaming(channel, rec, 5)
        bidi(channel, rec, 4)
        unary(channel, rec, "Lookup", b"nothing", kind="error")
        unary(channel, rec, "Slow", b"wait", timeout=0.3, kind="deadline")
        # Concurrent calls: streams multiplexed on the one connection.
        threads = [threading.Thread(target=unary, args=(channel, rec, "Echo", b"t%d" % i))
                   for i in range(8)]
        threads += [threading.Thread(target=server_streaming, args=(channel, rec, 3 + i))
                    for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        unary(channel, rec, "Echo", b"last")
    return rec.calls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    port = free_port()
    pcap = os.path.join(work, "grpc.pcap")
    tcpdump = start_tcpdump(pcap, port)
    server = start_server(port)
    try:
        calls = run_clients(port)
    finally:
        # The deadline-exceeded call's handler is still sleeping: let it finish and the
        # server answer into the closed stream, then stop.
        server.stop(grace=2).wait()
        time.sleep(0.5)
        tcpdump.send_signal(signal.SIGINT)
        _, stats = tcpdump.communicate(timeout=10)
    json.dump({"port": port, "pcap": pcap, "tcpdump": stats, "calls": calls},
              sys.stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
