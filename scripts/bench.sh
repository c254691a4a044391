#!/usr/bin/env bash
# Throughput and peak memory of tracetail beside cat, capinfos and tshark on the same file.
#
#   scripts/bench.sh [SIZE]          # SIZE of the synthetic trace, default 1G
#   BENCH_FILE=trace.pcap scripts/bench.sh   # use an existing capture instead
#
# Writes a markdown table to stdout. Not a test: numbers depend on the machine. Each tool runs
# once on a warm page cache (the file is read once first); peak memory is max RSS from
# /usr/bin/time. tshark runs are skipped when tshark is not installed, and the slow tshark
# http.time run is limited to BENCH_TSHARK_HTTP_MAX bytes of input (default 300 MB) unless
# BENCH_FULL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1G}
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/tracetail

file=${BENCH_FILE:-$work/synth-$size.pcap}
if [ ! -f "$file" ]; then
  echo "generating $file ..." >&2
  "$bin" synth -o "$file" --bytes "$size" --seed 42 >&2
fi
bytes=$(stat -c %s "$file")
packets=$("$bin" summary --json "$file" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
cat "$file" > /dev/null

measure() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v "$@" > /dev/null 2> "$log" || { echo "| $name | failed |"; tail -3 "$log" >&2; return; }
  end=$(date +%s.%N)
  local secs rss
  secs=$(python3 -c "print(f'{$end - $start:.2f}')")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  python3 - "$name" "$secs" "$rss" "$packets" "$bytes" <<'PY'
import sys
name, secs, rss, packets, size = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"| {name} | {secs:.2f} s | {packets/secs/1e6:.2f} M | {size/secs/1e6:.0f} MB/s | {rss/1024:.1f} MiB |")
PY
  rm -f "$log"
}

echo "File: \`$file\`, $bytes bytes, $packets packets. Machine: $(nproc) cores, $(uname -m)."
echo
echo "| tool | wall time | packets/s | throughput | peak RSS |"
echo "| --- | --- | --- | --- | --- |"
measure "cat > /dev/null" cat "$file"
measure "tracetail summary" "$bin" summary "$file"
measure "tracetail http --json" "$bin" http --json "$file"
measure "tracetail latency" "$bin" latency "$file"
if command -v capinfos > /dev/null; then measure "capinfos" capinfos "$file"; fi
if command -v tshark > /dev/null; then
  measure "tshark -q -z io,phs" tshark -n -q -r "$file" -z io,phs
  limit=${BENCH_TSHARK_HTTP_MAX:-300000000}
  if [ "${BENCH_FULL:-0}" = 1 ] || [ "$bytes" -le "$limit" ]; then
    measure "tshark http.time" tshark -n -r "$file" -Y http.response -T fields -e http.time
  else
    echo "| tshark http.time | skipped on the full file (BENCH_FULL=1 to run; see note) |"
  fi
fi

# Hostile traces: time and peak memory under floods (BENCH_HOSTILE=0 skips).
if [ "${BENCH_HOSTILE:-1}" = 1 ]; then
  echo
  scripts/bench_hostile.sh "$bin"
fi
