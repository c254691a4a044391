#!/usr/bin/env bash
# tracetail against tshark on the same job: every HTTP transaction of a trace with its
# response time, as rows.
#
#   scripts/bench_tshark.sh FILE...        # BENCH_BIN=path/to/tracetail to pick the binary
#   BENCH_PGO_BIN=target/pgo/release/tracetail scripts/bench_tshark.sh FILE...  # and a second one
#
# tracetail runs `http --json` (one JSON row per transaction: endpoints, method, URI, status,
# four timestamps, bytes). tshark runs the closest it has: a display filter on responses with
# the fields of a row (`-Y http.response -T fields`: response time, stream, endpoints, the
# request's frame, URI, status, `http.time`, content length); it reassembles TCP and parses
# HTTP as tracetail does, but prints fewer fields. Both write to a pipe counting rows.
#
# tshark is ~100x slower and keeps every frame's state (1.75 GiB for 1.25 M packets): a trace
# over BENCH_TSHARK_HTTP_MAX bytes (default 300 MB) is cut to its first packets for both tools
# (`editcap -r`; the row says so) unless BENCH_FULL=1. On a warm page cache, tshark runs once;
# tracetail, whose run of under a second moves with the machine's phase by up to ~30 %, runs
# BENCH_TSHARK_ROUNDS times (default BENCH_ROUNDS, or 5), and its median run by wall time is
# the one compared. Writes a markdown table to stdout; skipped when tshark is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-target/release/tracetail}
work=${BENCH_DIR:-target/bench}
limit=${BENCH_TSHARK_HTTP_MAX:-300000000}
mkdir -p "$work"
if ! command -v tshark > /dev/null; then
  echo "tshark is not installed: the comparison with tshark is skipped"
  exit 0
fi

packets_of() {
  "$bin" summary --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])'
}

# Runs a command with its output counted by `wc -l`: prints "wall cpu rows", the command's
# wall time and CPU (user + system, from its rusage) to the millisecond. (GNU time's
# hundredths were a seventh of tracetail's 0.07 s on the bench cut.)
rows_timed() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
counter = subprocess.Popen(["wc", "-l"], stdin=child.stdout, stdout=subprocess.PIPE)
child.stdout.close()
_, _, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
rows = counter.communicate()[0].decode().strip()
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.3f} {rows}")
PY
}

rounds=${BENCH_TSHARK_ROUNDS:-${BENCH_ROUNDS:-5}}
# BENCH_PGO_BIN: a profile-guided build (scripts/build_pgo.sh) timed the same way, in columns
# of its own.
pgo=${BENCH_PGO_BIN:-}
if [ -n "$pgo" ]; then
  echo "| trace | packets | rows (tracetail / tshark) | tracetail \`http --json\` wall (CPU), median of $rounds | tshark wall (CPU), one run | tshark / tracetail | profile-guided build wall (CPU), median of $rounds | tshark / profile-guided |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
else
  echo "| trace | packets | rows (tracetail / tshark) | tracetail \`http --json\` wall (CPU), median of $rounds | tshark wall (CPU), one run | tshark / tracetail |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
fi
# The median run by wall time of `BIN http --json FILE`, interleaved with the same of `PGO`
# when given: "wall cpu rows" per binary, on one line.
median_runs() { # bin pgo file
  local bin=$1 pgo=$2 file=$3 b
  local -a runs=("" "")
  for _ in $(seq "$rounds"); do
    runs[0]+=$(rows_timed "$bin" http --json "$file")$'\n'
    [ -z "$pgo" ] || runs[1]+=$(rows_timed "$pgo" http --json "$file")$'\n'
  done
  for b in 0 1; do
    [ -n "${runs[$b]}" ] || continue
    printf %s "${runs[$b]}" | sort -n -k1 | awk '{line[NR] = $0} END {printf "%s ", line[int((NR + 1) / 2)]}'
  done
  echo
}
for file in "$@"; do
  bytes=$(stat -c %s "$file")
  input=$file
  name=$(basename "$file")
  if [ "${BENCH_FULL:-0}" != 1 ] && [ "$bytes" -gt "$limit" ]; then
    all=$(packets_of "$file")
    keep=$((all * limit / bytes))
    input=$work/$(basename "$file" .pcap)-first-$keep.pcap
    [ -f "$input" ] || editcap -r "$file" "$input" "1-$keep"
    name="$name, first $keep of $all packets"
  fi
  cat "$input" > /dev/null
  packets=$(packets_of "$input")
  # The median run by wall time: "wall cpu rows".
  read -r tt_wall tt_cpu tt_rows pg_wall pg_cpu pg_rows < <(median_runs "$bin" "$pgo" "$input")
  read -r ts_wall ts_cpu ts_rows < <(rows_timed tshark -n -r "$input" -Y http.response -T fields \
    -e frame.time_epoch -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst \
    -e ipv6.dst -e tcp.dstport -e http.request_in -e http.response_for.uri \
    -e http.response.code -e http.time -e http.content_length)
  [ -z "$pgo" ] || [ "$pg_rows" = "$tt_rows" ] || { echo "the two builds wrote $tt_rows and $pg_rows rows" >&2; exit 1; }
  python3 -c "
tt_wall, tt_cpu, ts_wall, ts_cpu = max($tt_wall, 0.001), max($tt_cpu, 0.001), $ts_wall, $ts_cpu
row = f'| $name | $packets | $tt_rows / $ts_rows | {tt_wall:.3f} s ({tt_cpu:.3f} s) | {ts_wall:.2f} s ({ts_cpu:.2f} s) | {ts_wall / tt_wall:.0f}x wall, {ts_cpu / tt_cpu:.0f}x CPU |'
if '$pgo':
    pg_wall, pg_cpu = max(${pg_wall:-0}, 0.001), max(${pg_cpu:-0}, 0.001)
    row += f' {pg_wall:.3f} s ({pg_cpu:.3f} s) | {ts_wall / pg_wall:.0f}x wall, {ts_cpu / pg_cpu:.0f}x CPU |'
print(row)"
done
