#!/usr/bin/env bash
# HTTP/2 against HTTP/1.1 analysis speed, per captured byte, on the same workload.
#
#   scripts/bench_h2.sh [REQUESTS]        # default 30000
#   BENCH_H2_DIR=dir  (captures are kept there and reused: delete them to capture again)
#   BENCH_H2_BIN=path (a tracetail binary to measure instead of building target/release)
#   BENCH_H2_CALLGRIND=1 (also count instructions with valgrind's callgrind: slow, exact)
#
# The workload: one nginx serving one 2,000-byte file, `h2load -n REQUESTS -c 1 -m 10`
# once as HTTP/2 (h2c, prior knowledge) and once with `--h1` (HTTP/1.1 keep-alive, 10
# requests pipelined), each captured on loopback by tcpdump (scripts/h2_capture.py --bench,
# which retries a capture in which the kernel dropped packets). Bytes are the capture file's
# size. What is timed is `tracetail http --json --threads 1 FILE > /dev/null` (release): CPU
# seconds (user + sys, from /usr/bin/time), the best of 5 runs, the two captures taking turns
# so that both see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-30000}
work=${BENCH_H2_DIR:-target/bench-h2}
mkdir -p "$work"
if [ -n "${BENCH_H2_BIN:-}" ]; then
  bin=$BENCH_H2_BIN
else
  cargo build --release --quiet
  bin=target/release/tracetail
fi
h2=$work/bench-h2.pcap
h1=$work/bench-h1.pcap
if [ ! -f "$h2" ] || [ ! -f "$h1" ]; then
  echo "capturing $requests requests as HTTP/2 and as HTTP/1.1 ..." >&2
  python3 scripts/h2_capture.py --workdir "$work" --bench "$requests" > /dev/null
fi

instructions() { # file -> instructions (callgrind) of one run
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" http --json --threads 1 "$1" \
    2>&1 > /dev/null | awk '/Collected/ { print $NF }'
  rm -f "$out"
}
ir_h2=; ir_h1=
if [ -n "${BENCH_H2_CALLGRIND:-}" ]; then
  ir_h2=$(instructions "$h2")
  ir_h1=$(instructions "$h1")
fi

python3 - "$bin" "$h2" "$h1" "$ir_h2" "$ir_h1" <<'PY'
import os, subprocess, sys
bin, h2, h1, i2, i1 = sys.argv[1:]
RUNS, SAMPLES = 10, 5

def cpu_seconds(path):
    """User + sys CPU seconds of RUNS runs (wait4's rusage: microseconds, not ticks)."""
    total = 0.0
    for _ in range(RUNS):
        with open(os.devnull, "w") as null:
            p = subprocess.Popen([bin, "http", "--json", "--threads", "1", path], stdout=null)
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            sys.exit(f"tracetail failed on {path}")
        total += usage.ru_utime + usage.ru_stime
    return total / RUNS

best = {h2: float("inf"), h1: float("inf")}
for _ in range(SAMPLES):
    for path in (h2, h1):  # taking turns: both see the same load
        best[path] = min(best[path], cpu_seconds(path))

def rows(path, version):
    out = subprocess.run([bin, "http", "--json", "--threads", "1", path],
                         capture_output=True, text=True, check=True).stdout
    return sum(f'"version":"{version}"' in line for line in out.splitlines())

print(f"| capture | transactions | bytes | CPU per run (best of {SAMPLES} x {RUNS} runs) "
      "| bytes per CPU second | instructions | instructions per byte |")
print("| --- | --- | --- | --- | --- | --- | --- |")
counts = {h2: rows(h2, "2"), h1: rows(h1, "1.1")}
if counts[h2] != counts[h1]:
    print(f"warning: not the same workload: {counts[h2]} HTTP/2 and {counts[h1]} HTTP/1.1 "
          "transactions (delete the captures to make them again)", file=sys.stderr)
for name, path, ir in (("HTTP/2 (h2c)", h2, i2), ("HTTP/1.1 `--h1`", h1, i1)):
    b, t = os.path.getsize(path), best[path]
    irs = f"{int(ir) / 1e6:.0f} M | {int(ir) / b:.2f}" if ir else "- | -"
    print(f"| {name} | {counts[path]} | {b / 1e6:.1f} MB | {t * 1e3:.1f} ms "
          f"| {b / t / 1e9:.2f} GB/s | {irs} |")
b2, b1 = os.path.getsize(h2), os.path.getsize(h1)
line = f"HTTP/2 CPU time per byte: {(best[h2] / b2) / (best[h1] / b1):.2f}x HTTP/1.1's"
if i2 and i1:
    line += f"; instructions per byte: {(int(i2) / b2) / (int(i1) / b1):.2f}x"
print()
print(line)
PY
