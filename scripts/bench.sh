#!/usr/bin/env bash
# Throughput and peak memory of tracetail beside cat, capinfos and tshark on the same file.
#
#   scripts/bench.sh [SIZE]          # SIZE of the synthetic trace, default 1G
#   BENCH_FILE=trace.pcap scripts/bench.sh   # use an existing capture instead
#
# Writes a markdown table to stdout. Not a test: numbers depend on the machine. Each tool runs
# once on a warm page cache (the file is read once first); peak memory is max RSS from
# /usr/bin/time. tshark runs are skipped when tshark is not installed.
#
# tshark on the same job as `tracetail http --json` (scripts/bench_tshark.sh): on this file
# and on the small-packet trace, with the ratio per trace; a trace over BENCH_TSHARK_HTTP_MAX
# bytes (default 300 MB) is cut to its first packets for both tools unless BENCH_FULL=1.
#
# The profile-guided build (scripts/build_pgo.sh; BENCH_PGO=0 skips it) is measured beside the
# release build in the per-core table and against tshark.
#
# Then, on the same file: per-core throughput (`--threads 1`), the scaling table for 1..cores
# workers (wall and CPU time), the same on a real HTTPS + HTTP/2 capture whose analysis is
# heavy (scripts/capture_tls_h2.sh, as root with nginx and curl), the simulated scaling (a
# per-worker cost that uses no core), and a model of larger machines from the instructions
# of each thread (scripts/bench_threads_model.sh, on cuts of both traces), and where one
# thread's instructions go by command and by stage (scripts/bench_budget.sh, same cuts).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1G}
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
cargo build --release --quiet
cargo build --release --quiet --example http_floor
bin=target/release/tracetail
# The floor under any analysis that writes `http --json`'s rows from this reader and decoder
# (examples/http_floor.rs: no reassembly, no ordering; not an analyzer): timed beside `summary`.
floor=target/release/examples/http_floor
# The profile-guided build beside it (scripts/build_pgo.sh, ~5 minutes; needs the toolchain's
# llvm-profdata): its per-core throughput and its ratio to tshark are measured too.
# BENCH_PGO=0 skips it.
pgo=""
if [ "${BENCH_PGO:-1}" = 1 ]; then
  if scripts/build_pgo.sh > /dev/null 2> "$work/build_pgo.log"; then
    pgo=target/pgo/release/tracetail
  else
    echo "profile-guided build skipped: $(tail -3 "$work/build_pgo.log" | paste -sd' ')" >&2
  fi
fi

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
measure "tracetail http --json --threads 1" "$bin" http --json --threads 1 "$file"
measure "tracetail latency" "$bin" latency "$file"
measure "tracetail latency --threads 1" "$bin" latency --threads 1 "$file"
if command -v capinfos > /dev/null; then measure "capinfos" capinfos "$file"; fi
if command -v tshark > /dev/null; then
  measure "tshark -q -z io,phs" tshark -n -q -r "$file" -z io,phs
fi

# Seconds of wall and CPU (user + system) time of one run: "wall cpu". Read from the child's
# rusage to the microsecond (GNU time prints hundredths: `summary` of the small-packet trace
# takes ~0.06 s of CPU, where a hundredth is 17 %).
timed() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, _, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.3f}")
PY
}

# The median of a list of numbers (one per line on stdin), then the lowest.
median_lowest() {
  sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], v[1]}'
}

# Rounds of interleaved runs behind the per-core and scaling tables: on a shared VM whose speed
# changes between phases, one run per row compared a fast phase with a slow one (a "2.08x"
# with two workers on two cores); the median of interleaved rounds compares like with like.
rounds=${BENCH_ROUNDS:-5}

# Per-core throughput: packets per CPU second (user + system) of one-thread runs, on this file
# and on a small-packet trace (short bodies: ~130 bytes a packet, a transaction every ~6 packets).
small=$work/synth-small.pcap
if [ ! -f "$small" ]; then
  "$bin" synth -o "$small" --requests 150000 --body-scale 0.01 --seed 42 >&2
fi
small_packets=$("$bin" summary --json "$small" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
echo
echo "Per-core throughput (\`--threads 1\`, packets per CPU second; CPU = user + system; median"
echo "of $rounds interleaved rounds, the best round beside it: this VM's phases slow a run by up to"
echo "~2x, never speed it up)${pgo:+, of \`cargo build --release\` and of the profile-guided build}:"
echo
# The binaries measured, a column pair each.
labels=(release) bins=("$bin")
[ -z "$pgo" ] || { labels+=(profile-guided); bins+=("$pgo"); }
header="| command |" rule="| --- |"
for label in "${labels[@]}"; do
  suffix=""
  [ ${#labels[@]} = 1 ] || suffix=", $label"
  header+=" this file$suffix | small-packet trace ($small_packets packets)$suffix |"
  rule+=" --- | --- |"
done
echo "$header"
echo "$rule"
# Each command's median CPU time per binary and trace, for the share of the header walk below.
declare -A median_cpu=()
for command in "http --json" "tcp --json" "latency" "summary"; do
  declare -A cpus=()
  for _ in $(seq "$rounds"); do
    for i in "${!bins[@]}"; do
      for trace in "$file" "$small"; do
        # shellcheck disable=SC2086 # the command is words on purpose
        read -r _ cpu < <(timed "${bins[$i]}" $command --threads 1 "$trace")
        cpus["$i $trace"]+="$cpu"$'\n'
      done
    done
    if [ "$command" = summary ]; then
      for trace in "$file" "$small"; do
        read -r _ cpu < <(timed "$floor" "$trace")
        cpus["floor $trace"]+="$cpu"$'\n'
      done
    fi
  done
  if [ "$command" = summary ]; then
    for trace in "$file" "$small"; do
      read -r cpu _ < <(printf %s "${cpus["floor $trace"]}" | median_lowest)
      median_cpu["floor $trace"]=$cpu
    done
  fi
  row="| \`$command\` |"
  for i in "${!bins[@]}"; do
    for trace in "$file" "$small"; do
      read -r cpu best < <(printf %s "${cpus["$i $trace"]}" | median_lowest)
      median_cpu["$command $i $trace"]=$cpu
      n=$packets
      [ "$trace" = "$file" ] || n=$small_packets
      row+=$(python3 -c "print(f' {$n / max($cpu, 0.001) / 1e6:.2f} M/s ({$cpu:.3f} s; best {$n / max($best, 0.001) / 1e6:.2f} M/s) |')")
    done
  done
  echo "$row"
  unset cpus
done
# The issue's yardstick that the VM's phase moves least: a command's per-core rate as a share
# of `summary`'s (the header walk), both medians of the same interleaved rounds.
echo
for i in "${!bins[@]}"; do
  for trace in "$file" "$small"; do
    name="this file"
    [ "$trace" = "$file" ] || name="the small-packet trace"
    python3 -c "
http, tcp, lat, walk = ${median_cpu["http --json $i $trace"]}, ${median_cpu["tcp --json $i $trace"]}, ${median_cpu["latency $i $trace"]}, ${median_cpu["summary $i $trace"]}
share = lambda cpu: f'{100 * walk / max(cpu, 0.001):.0f} %'
print(f'- ${labels[$i]}, $name: \`http --json\` at {share(http)} of \`summary\`\'s rate, \`tcp --json\` {share(tcp)}, \`latency\` {share(lat)}.')"
  done
done
for trace in "$file" "$small"; do
  name="this file"
  [ "$trace" = "$file" ] || name="the small-packet trace"
  n=$packets
  [ "$trace" = "$file" ] || n=$small_packets
  python3 -c "
floor, walk = ${median_cpu["floor $trace"]}, ${median_cpu["summary 0 $trace"]}
print(f'- the floor (examples/http_floor.rs, release), $name: {$n / max(floor, 0.001) / 1e6:.2f} M/s, at {100 * walk / max(floor, 0.001):.0f} % of \`summary\`\'s rate.')"
done

echo
echo "tshark on the same job as \`tracetail http --json\` (every HTTP transaction with its response"
echo "time; scripts/bench_tshark.sh):"
echo
BENCH_BIN=$bin BENCH_PGO_BIN=$pgo scripts/bench_tshark.sh "$file" "$small"

# The rows of a scaling table: COMMAND --threads N FILE for each N of WORKERS, in interleaved
# rounds; per N the median wall (the lowest beside it), packets/s, speed-up over the first N
# and the median CPU time.
scaling_rows() { # file packets "workers" command...
  local file=$1 packets=$2 workers=$3
  shift 3
  local -A walls=() cpus=()
  local n wall cpu lowest base=""
  for _ in $(seq "$rounds"); do
    for n in $workers; do
      read -r wall cpu < <(timed "$@" --threads "$n" "$file")
      walls[$n]+="$wall"$'\n'
      cpus[$n]+="$cpu"$'\n'
    done
  done
  echo "| workers | wall time (lowest) | packets/s | speed-up | CPU time |"
  echo "| --- | --- | --- | --- | --- |"
  for n in $workers; do
    read -r wall lowest < <(printf %s "${walls[$n]}" | median_lowest)
    read -r cpu _ < <(printf %s "${cpus[$n]}" | median_lowest)
    base=${base:-$wall}
    python3 -c "
n, wall, lowest, cpu, base, packets = $n, $wall, $lowest, $cpu, $base, $packets
print(f'| {n} | {wall:.2f} s ({lowest:.2f} s) | {packets / wall / 1e6:.2f} M | {base / wall:.2f}x | {cpu:.2f} s |')"
  done
}

cores=$(nproc)
echo
echo "Scaling of \`http --json\` with workers (\`--threads N\`; the reader and the merger are two"
echo "more threads); median of $rounds interleaved rounds (wall: the lowest beside it). Load average"
echo "before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
scaling_rows "$file" "$packets" "$(seq 1 "$cores") $((cores * 2))" "$bin" http --json

# Small packets are where the front's share and the hand-overs weigh most.
echo
echo "The same on the small-packet trace ($small_packets packets):"
echo
scaling_rows "$small" "$small_packets" "$(seq 1 "$cores")" "$bin" http --json

# Scaling where the analysis is the heavy part: HTTPS with HTTP/2, decrypted from the key log
# (a real capture from nginx and curl on loopback, scripts/capture_tls_h2.sh; made once, kept
# in the bench directory). Medians of interleaved rounds per worker count. BENCH_TLS=0 skips;
# skipped too without root, nginx, curl, openssl or tcpdump.
tls=$work/tls-h2.pcap
if [ "${BENCH_TLS:-1}" = 1 ] && [ ! -f "$tls" ] && [ "$(id -u)" = 0 ]; then
  scripts/capture_tls_h2.sh "$tls" > /dev/null 2>&1 || rm -f "$tls"
fi
if [ "${BENCH_TLS:-1}" = 1 ] && [ -f "$tls" ]; then
  tls_packets=$("$bin" summary --json "$tls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
  tls_rows=$("$bin" http --json --keylog "$tls.keys" "$tls" 2> /dev/null | wc -l)
  echo
  echo "Scaling of \`http --json --keylog\` on HTTPS with HTTP/2 ($tls_packets packets, $tls_rows requests"
  echo "decrypted; \`scripts/capture_tls_h2.sh\`), where the workers do ~80 % of the work; median of"
  echo "$rounds interleaved rounds (wall: the lowest beside it):"
  echo
  scaling_rows "$tls" "$tls_packets" "$(seq 1 "$cores")" "$bin" http --json --keylog "$tls.keys"
fi

# Scaling where the workers are the bottleneck. On a machine with few cores the reader, the
# merger and the workers share them, so adding workers cannot show what the dealer can feed.
# TRACETAIL_BENCH_WORKER_NS (bench only) makes each worker also sleep that long per packet
# dealt to it (no CPU used), as if its analysis were that much slower: the wall time then
# follows max(reader, packets x delay / workers), and the curve shows how far the one reader
# feeds N workers. BENCH_WORKER_NS sets the delay (default 2000 ns per packet).
delay=${BENCH_WORKER_NS:-2000}
echo
echo "Scaling of \`http --json\` when each worker costs ${delay} ns more per packet (simulated,"
echo "sleeping; \`TRACETAIL_BENCH_WORKER_NS=${delay}\`): ideal wall time is packets x ${delay} ns / workers,"
echo "until the reader's own speed is the bound. Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| workers | wall time | speed-up | ideal | CPU time |"
echo "| --- | --- | --- | --- | --- |"
base=""
for n in 1 2 4 8 16; do
  read -r wall cpu < <(TRACETAIL_BENCH_WORKER_NS=$delay timed "$bin" http --json --threads "$n" "$file")
  base=${base:-$wall}
  python3 -c "
n, wall, cpu, base, packets, delay = $n, $wall, $cpu, $base, $packets, $delay
ideal = packets * delay / 1e9 / n
print(f'| {n} | {wall:.2f} s | {base / wall:.2f}x | {ideal:.2f} s | {cpu:.2f} s |')"
done

# A bigger machine, from the instructions of each thread (callgrind; deterministic on a shared
# machine, unlike CPU time), on the first 40,000 packets of each trace (BENCH_MODEL=0 skips;
# needs valgrind and editcap). It replaced a model from stage CPU times measured one at a time,
# which could not see the front split into a reader and a dealer thread.
if [ "${BENCH_MODEL:-1}" = 1 ] && command -v valgrind > /dev/null && command -v editcap > /dev/null; then
  for trace in "$file" "$small"; do
    cut=$work/$(basename "$trace" .pcap)-first-40000.pcap
    [ -f "$cut" ] || editcap -r "$trace" "$cut" 1-40000
    echo
    BENCH_BIN=$bin scripts/bench_threads_model.sh "$cut"
  done
  # Where one thread's instructions go, by command and by stage (scripts/bench_budget.sh).
  for trace in "$file" "$small"; do
    echo
    BENCH_BIN=$bin scripts/bench_budget.sh "$work/$(basename "$trace" .pcap)-first-40000.pcap"
  done
fi

# Hostile traces: time and peak memory under floods (BENCH_HOSTILE=0 skips).
if [ "${BENCH_HOSTILE:-1}" = 1 ]; then
  echo
  scripts/bench_hostile.sh "$bin"
fi
