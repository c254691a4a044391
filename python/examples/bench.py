#!/usr/bin/env python3
"""Time `tracetail.http` against the CLI's `tracetail http --json > /dev/null` on one capture,
and Scapy's HTTP loop (from assignment.py) beside them.

    tracetail synth -o /tmp/big.pcap --requests 40000      # about 1 M packets, 0.8 GB
    python3 python/examples/bench.py /tmp/big.pcap --cli target/release/tracetail

Best of --runs interleaved runs each (the file stays in the page cache). Scapy holds every packet in memory
(several GB per million packets), so it reads only the first --scapy-packets packets and its
rate is extrapolated to the whole capture (said so in the output).
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import tracetail

sys.path.insert(0, str(Path(__file__).resolve().parent))


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def best(runs, fn, who=resource.RUSAGE_SELF):
    """Fastest wall time of `runs` calls, the CPU time (user + sys, all threads) of that call,
    and the last result. CPU time hardly depends on the machine's load."""
    times = []
    for _ in range(runs):
        cpu, start = cpu_seconds(who), time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start, cpu_seconds(who) - cpu))
    wall, cpu = min(times)
    return (wall, cpu), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("capture")
    parser.add_argument("--cli", default="target/release/tracetail")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scapy-packets", type=int, default=50_000)
    args = parser.parse_args()

    packets = tracetail.summary(args.capture)["packets"]
    print(f"{args.capture}: {packets:,} packets")

    def cli():
        with open("/dev/null", "wb") as devnull:
            subprocess.run([args.cli, "http", "--json", args.capture], stdout=devnull, check=True)

    # Interleaved rounds, best of each: a shared machine's load hits all three alike.
    cli_s = table_s = stream_s = (float("inf"), 0.0)
    for _ in range(args.runs):
        cli_s = min(cli_s, best(1, cli, resource.RUSAGE_CHILDREN)[0])
        t, table = best(1, lambda: tracetail.http(args.capture))
        table_s = min(table_s, t)
        t, rows = best(
            1, lambda: sum(b.num_rows for b in tracetail.read_batches(args.capture, "http"))
        )
        stream_s = min(stream_s, t)
    assert rows == table.num_rows
    print("                                       wall      CPU (user+sys)")
    print(f"  tracetail http --json > /dev/null   {cli_s[0]:7.3f} s  {cli_s[1]:7.3f} s")
    print(f"  tracetail.http (pyarrow.Table)      {table_s[0]:7.3f} s  {table_s[1]:7.3f} s"
          f"  = {table_s[0] / cli_s[0]:.2f}x the CLI's wall time, {table_s[1] / cli_s[1]:.2f}x its CPU;"
          f" {table.num_rows:,} rows, {table.nbytes / 2**20:.1f} MiB of Arrow buffers")
    print(f"  tracetail.read_batches (streamed)   {stream_s[0]:7.3f} s  {stream_s[1]:7.3f} s"
          f"  = {stream_s[0] / cli_s[0]:.2f}x, {stream_s[1] / cli_s[1]:.2f}x")

    import assignment
    from scapy.all import PcapReader

    def scapy_part():
        with PcapReader(args.capture) as reader:
            head = [p for _, p in zip(range(args.scapy_packets), reader)]
        return assignment.scapy_http(head), len(head)

    start = time.perf_counter()
    _, read = scapy_part()
    scapy_s = time.perf_counter() - start
    rate = read / scapy_s
    print(f"  Scapy read + HTTP loop              {scapy_s:7.3f} s for the first {read:,} packets"
          f" ({rate:,.0f} packets/s; the whole capture would take ~{packets / rate:,.0f} s ="
          f" {packets / rate / table_s[0]:,.0f}x tracetail.http)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this Python process     {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
