#!/usr/bin/env python3
"""The packet-trace course assignment, done with tracetail from Python and, side by side, with
Scapy (the way the assignment is usually done), timing both.

    pip install ./python matplotlib numpy scapy
    python3 python/examples/assignment.py [CAPTURE] [--out DIR]

Steps: 1. packet counts; 2. sessions (Scapy's PacketList.sessions() keys); 3. "HTTP request at
time T for server IP S"; 4. tail percentiles of the time to first byte; 5. a histogram of the
latencies with a Pareto fit (matplotlib); 6. Anscombe's quartet (why you always plot).
Where both tools answer the same question, the script checks that the answers agree and exits
non-zero if they do not.
"""

import argparse
import logging
import math
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

import tracetail

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "samples" / "demo.pcap.gz"
HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ")

failures = []


def check(what, ok):
    print(f"   {'agree' if ok else 'DIFFER'}: {what}")
    if not ok:
        failures.append(what)


class Stopwatch:
    """Accumulated wall time per tool."""

    def __init__(self):
        self.seconds = defaultdict(float)

    def run(self, tool, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[tool] += time.perf_counter() - start
        return result


def nearest_rank(values, p):
    """Nearest-rank percentile (numpy's 'inverted_cdf'), as tracetail computes it by default."""
    return int(np.percentile(np.asarray(values), p, method="inverted_cdf"))


# ---------------------------------------------------------------- the Scapy way
def scapy_read(path):
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.all import rdpcap

    return rdpcap(str(path))


def scapy_counts(packets):
    from scapy.all import TCP, UDP

    return {
        "packets": len(packets),
        "tcp": sum(1 for p in packets if TCP in p),
        "udp": sum(1 for p in packets if UDP in p),
    }


def scapy_sessions(packets):
    return {key: len(plist) for key, plist in packets.sessions().items()}


def ip_of(packet):
    from scapy.all import IP, IPv6

    return packet[IP] if IP in packet else packet[IPv6]


def scapy_http(packets):
    """Requests = TCP payloads starting with a method; time to first byte = first server payload
    starting with "HTTP/" on the same connection after it. What students usually write: it
    cannot see a request that shares a packet with the one before (pipelining) or starts
    mid-segment, and pairs responses by order alone. A payload whose sequence number was seen
    before is a retransmitted copy: marked, not counted as a new request."""
    from scapy.all import TCP, Raw

    requests = []
    waiting = {}  # connection -> indexes of its unanswered requests, oldest first
    sent = set()  # (connection, sequence number) of request packets seen
    for p in packets:
        if TCP not in p or Raw not in p:
            continue
        ip, tcp, payload = ip_of(p), p[TCP], bytes(p[Raw].load)
        t_ns = int(p.time * 1_000_000_000)
        if payload.startswith(HTTP_METHODS):
            key = (ip.src, tcp.sport, ip.dst, tcp.dport)
            copy = (key, tcp.seq) in sent
            sent.add((key, tcp.seq))
            requests.append({"t_ns": t_ns, "server": ip.dst, "ttfb_ns": None, "copy": copy})
            if not copy:
                waiting.setdefault(key, []).append(len(requests) - 1)
        else:
            key = (ip.dst, tcp.dport, ip.src, tcp.sport)
            if waiting.get(key) and payload.startswith(b"HTTP/"):
                i = waiting[key].pop(0)
                requests[i]["ttfb_ns"] = t_ns - requests[i]["t_ns"]
    return requests


# ---------------------------------------------------------------- the assignment
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", default=str(SAMPLE))
    parser.add_argument("--out", default="assignment_out", help="folder for the plots")
    parser.add_argument("--no-scapy", action="store_true", help="tracetail only")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clock = Stopwatch()
    use_scapy = not args.no_scapy
    if use_scapy:
        packets = clock.run("scapy", scapy_read, args.capture)

    print(f"1. Packet counts of {args.capture}")
    summary = clock.run("tracetail", tracetail.summary, args.capture)
    print(f"   tracetail: {summary['packets']} packets, TCP {summary['tcp']}, UDP {summary['udp']}")
    if use_scapy:
        counts = clock.run("scapy", scapy_counts, packets)
        print(f"   Scapy:     {counts['packets']} packets, TCP {counts['tcp']}, UDP {counts['udp']}")
        check("packet, TCP and UDP counts", counts == {k: summary[k] for k in counts})

    print("\n2. Sessions")
    keys = clock.run("tracetail", tracetail.sessions_scapy, args.capture)
    flows = clock.run("tracetail", tracetail.sessions, args.capture).to_pandas()
    print(f"   tracetail: {len(keys)} Scapy session keys, {len(flows)} conversations; largest:")
    flows["bytes"] = flows["client_bytes"] + flows["server_bytes"]
    for f in flows.nlargest(3, "bytes").itertuples():
        print(f"     {f.protocol} {f.client_ip}:{f.client_port} -> {f.server_ip}:{f.server_port}"
              f"  {f.bytes} bytes  {f.duration_ns / 1e6:.3f} ms  {f.tcp_state}")
    if use_scapy:
        theirs = clock.run("scapy", scapy_sessions, packets)
        print(f"   Scapy:     {len(theirs)} session keys")
        check("every Scapy session key and its packet count", keys == theirs)

    print("\n3. HTTP request at time T for server IP S")
    http = clock.run("tracetail", tracetail.http, args.capture)
    seen = http.filter(pc.not_equal(http["method"], ""))  # requests whose bytes were captured
    requests = seen.to_pandas()
    # Integer ns (pandas Timestamps also keep ns; Python datetimes would drop them).
    t_ns = seen["request_first_ts"].cast("int64").to_pylist()
    for (_, r), t in list(zip(requests.iterrows(), t_ns))[:3]:
        print(f"   HTTP request at {t // 10**9}.{t % 10**9:09d} for server {r.server_ip}"
              f"  {r.method} {r.uri} -> {r.status}")
    print(f"   tracetail: {len(requests)} requests")
    if use_scapy:
        naive = clock.run("scapy", scapy_http, packets)
        new = [r for r in naive if not r["copy"]]
        print(f"   Scapy:     {len(naive)} packets start with a method, {len(naive) - len(new)} of"
              " them retransmitted copies")
        ours = Counter(zip(t_ns, requests["server_ip"]))
        theirs = Counter((r["t_ns"], r["server"]) for r in new)
        # Scapy's times are exact here (a nanosecond pcap, read as Decimal). A request whose
        # segments arrived out of order starts, for tracetail, at its earliest byte: the
        # loop's time (the packet with the method) is then a little later.
        late = [(t, s) for t, s in (theirs - ours) if any(
            s == s2 and 0 < t - t2 < 1_000_000 for t2, s2 in (ours - theirs))]
        print(f"   {sum((theirs & ours).values())} of them at the same ns for the same server as"
              f" tracetail's, {len(late)} later (reordered segments)")
        check("every request the Scapy loop finds is one of tracetail's",
              sum((theirs - ours).values()) == len(late))
        shared = sum(n - 1 for n in ours.values())
        print(f"   the Scapy loop misses {sum((ours - theirs).values())} requests: {shared} share a"
              " packet with the request before (pipelining), the others start mid-segment or out of order")

    print("\n4. Tail percentiles of the time to first byte (nearest rank)")
    lat = clock.run("tracetail", tracetail.latency, args.capture, metric="ttfb")
    ttfb = http["ttfb_ns"].drop_null().to_numpy()
    header = "   " + " ".join(f"{'p' + p:>9}" for p in lat["percentiles"])
    print(header)
    print("   " + " ".join(f"{v / 1e6:8.3f}ms" for v in lat["percentiles"].values()) + "  tracetail")
    numpy_p = {p: nearest_rank(ttfb, float(p)) for p in lat["percentiles"]}
    print("   " + " ".join(f"{v / 1e6:8.3f}ms" for v in numpy_p.values()) + "  numpy on tracetail.http")
    check("tracetail.latency = numpy on the table", numpy_p == lat["percentiles"])
    if use_scapy:
        scapy_ttfb = [r["ttfb_ns"] for r in naive if r["ttfb_ns"] is not None]
        scapy_p = {p: nearest_rank(scapy_ttfb, float(p)) for p in lat["percentiles"]}
        print("   " + " ".join(f"{v / 1e6:8.3f}ms" for v in scapy_p.values()) + "  the Scapy loop")
        print(f"   (the Scapy loop timed {len(scapy_ttfb)} requests, tracetail {len(ttfb)}: the tail"
              " moves with the requests it cannot see)")

    print("\n5. Histogram of the time to first byte with a Pareto fit")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = ttfb / 1e6  # ms
    xm = x.min()
    shape = len(x) / np.sum(np.log(x / xm))  # maximum-likelihood Pareto shape for scale xm
    bins = np.logspace(math.log10(xm), math.log10(x.max()), 40)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.hist(x, bins=bins, density=True, alpha=0.6, label=f"{len(x)} requests")
    grid = np.logspace(math.log10(xm), math.log10(x.max()), 200)
    ax.plot(grid, shape * xm**shape / grid ** (shape + 1), "r-",
            label=f"Pareto fit: a={shape:.2f}, xm={xm:.2f} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to first byte (ms)")
    ax.set_ylabel("density")
    ax.set_title("HTTP time to first byte")
    ax.legend()
    fig.savefig(out / "ttfb_pareto.png", dpi=100)
    print(f"   Pareto shape a = {shape:.2f} (a <= 2: infinite variance, the mean is unstable)")
    print(f"   wrote {out / 'ttfb_pareto.png'}")

    print("\n6. Anscombe's quartet: same statistics, different data")
    quartet = anscombe()
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True, sharey=True)
    for ax, (name, (xs, ys)) in zip(axes.flat, quartet.items()):
        xs, ys = np.array(xs), np.array(ys)
        slope, intercept = np.polyfit(xs, ys, 1)
        r = np.corrcoef(xs, ys)[0, 1]
        print(f"   {name:>3}: mean x {xs.mean():.2f}  var x {xs.var(ddof=1):.2f}  mean y {ys.mean():.2f}"
              f"  var y {ys.var(ddof=1):.3f}  r {r:.3f}  y = {intercept:.2f} + {slope:.3f} x")
        ax.scatter(xs, ys)
        ax.plot([4, 19], [intercept + slope * 4, intercept + slope * 19], "r-")
        ax.set_title(name)
    fig.savefig(out / "anscombe.png", dpi=100)
    print(f"   wrote {out / 'anscombe.png'}")

    print("\nTime spent")
    for tool, seconds in clock.seconds.items():
        print(f"   {tool:>9}: {seconds:7.3f} s")
    if use_scapy and clock.seconds["tracetail"] > 0:
        print(f"   Scapy took {clock.seconds['scapy'] / clock.seconds['tracetail']:.0f}x as long"
              " (tracetail read the capture once per question; Scapy once in all)")
    if failures:
        print(f"\n{len(failures)} answer(s) differ: {', '.join(failures)}")
        return 1
    return 0


def anscombe():
    """F. J. Anscombe, "Graphs in Statistical Analysis", The American Statistician 27 (1973)."""
    x = [10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5]
    return {
        "I": (x, [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68]),
        "II": (x, [9.14, 8.14, 8.74, 8.77, 9.26, 8.10, 6.13, 3.10, 9.13, 7.26, 4.74]),
        "III": (x, [7.46, 6.77, 12.74, 7.11, 7.81, 8.84, 6.08, 5.39, 8.15, 6.42, 5.73]),
        "IV": ([8, 8, 8, 8, 8, 8, 8, 19, 8, 8, 8],
               [6.58, 5.76, 7.71, 8.84, 8.47, 7.04, 5.25, 12.50, 5.56, 7.91, 6.89]),
    }


if __name__ == "__main__":
    sys.exit(main())
