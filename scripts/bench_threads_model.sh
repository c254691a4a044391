#!/usr/bin/env bash
# How the work of one pass splits over its threads, counted in instructions (callgrind), and
# what that allows on machines with more cores. Deterministic, unlike wall or CPU time on a
# shared machine, so two versions can be compared on any day.
#
#   scripts/bench_threads_model.sh FILE [COMMAND...]   # default command: http --json
#   BENCH_MODEL_WORKERS="1 2 4 8" (default) picks the worker counts
#
# Threads of a pass with N workers (src/pipeline.rs): the caller's thread (the merger, which
# also writes the rows), N workers, and the front: one thread that reads, decodes, counts,
# assigns flows and deals packets, or from 3 workers on (a mapped file) several: the reader
# (finds packets), decoding threads (decode, select, count chunks of packets; one per four
# workers), as many flow threads (each the flow table's parts `part % threads == thread`),
# the sequencer (chunks back in order, counts, clock, IP reassembly) and the dealer
# (numbering flows, dealing); with 2
# workers on a machine of two cores the front's thread and one worker thread share the
# analysis (8 shards, each epoch's batches taken by whichever thread is free; under callgrind
# the split between them means nothing, so that row counts the two as one pair). They run
# concurrently, so on C cores the pass takes at least the reader's, the sequencer's, the dealer's, the busiest
# flow thread's and the merger's instructions, at least the decoders' and the workers' instructions over their
# number (each takes whichever chunk or shard's batch is next, so they share that work; how
# callgrind, running one thread at a time, happened to hand it out says nothing), and at
# least all instructions / C.
# The speed-up printed is the one-thread run's instructions over that bound: an upper bound
# that ignores waiting, caches, memory bandwidth and a shard heavier than a worker's share
# (bench.sh measures the real thing beside it).
# Use a cut of a large trace (callgrind runs ~50x slower): `editcap -r big.pcap cut.pcap 1-100000`.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: scripts/bench_threads_model.sh FILE [COMMAND...]}
shift
command=("$@")
[ ${#command[@]} -gt 0 ] || command=(http --json)
bin=${BENCH_BIN:-target/release/tracetail}
command -v valgrind > /dev/null || { echo "valgrind is not installed: no instruction model" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Instructions per thread of one run: one line, the caller's thread first, then in creation
# order (workers, then the front).
per_thread() { # workers
  # From 3 workers on, threads are planned as on a machine with as many cores as workers
  # (decoding threads are not made on two cores); 2 workers are modelled on two cores.
  local cores=2
  [ "$1" -lt 3 ] || cores=$1
  TRACETAIL_BENCH_CORES=$cores valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$work/cg.$1.%p" \
    "$bin" "${command[@]}" --threads "$1" "$file" > /dev/null 2> "$work/log.$1"
  for f in $(ls "$work"/cg."$1".* | sort -t- -k2 -n); do
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
  done | paste -sd' '
}

single=$(per_thread 1)
echo "Instructions by thread, \`${command[*]}\` on \`$(basename "$file")\` (callgrind):"
echo
echo "| workers | total | reader | decoders | flow threads | dealer | workers (each) | merger | bound on 2 cores | on 4 | on 16 | on 64 |"
echo "| --- | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for n in ${BENCH_MODEL_WORKERS:-1 2 4 8}; do
  counts=$single
  [ "$n" = 1 ] || counts=$(per_thread "$n")
  python3 - "$n" "$single" "$counts" <<'PY'
import sys
n = int(sys.argv[1])
single = sum(int(x) for x in sys.argv[2].split())
threads = [int(x) for x in sys.argv[3].split()]
total = sum(threads)
hosted = False
decoders = []
flows = []
sequencer = None
if len(threads) == 1:
    # --threads 1: everything on the caller's thread.
    merger, workers, reader, dealer = threads[0], [], None, None
elif len(threads) == n + 2:
    # One front thread: it reads and deals.
    merger, workers, reader, dealer = threads[0], threads[1:-1], threads[-1], None
elif len(threads) == n + 1:
    # Two workers on two cores: the front's thread and one worker thread share the analysis.
    merger, workers, reader, dealer = threads[0], threads[1:-1], threads[-1], None
    hosted = True
else:
    # A split front: the reader, its decoding threads (one per four workers, at most 8), as
    # many flow threads and the sequencer (chunks in order, clock, IP reassembly), then the
    # dealer; a command without flows has no flow threads and no sequencer.
    merger, workers = threads[0], threads[1:n + 1]
    reader, middle, dealer = threads[n + 1], threads[n + 2:-1], threads[-1]
    d = min(max((n + 3) // 4, 1), 8)
    if len(middle) == 2 * d + 1:
        decoders, flows, sequencer = middle[:d], middle[d:2 * d], middle[2 * d]
    else:
        decoders, flows, sequencer = middle, [], None
def speedup(cores):
    if hosted:
        # The pair (front, worker thread) shares its work, on at most two cores.
        return single / max(merger, (total - merger) / min(cores, 2), total / cores)
    # Worker threads take whichever shard's batch is next (the shard pool), so they share
    # the analysis: what one of them does under callgrind, which runs one thread at a time,
    # is how callgrind scheduled them, not how a machine would.
    # Each flow thread holds its own parts of the flow table: they do not share.
    fixed = max(t for t in (reader, sequencer, dealer, merger, *flows) if t is not None)
    pooled = sum(workers) / len(workers) if workers else 0
    # Decoding threads likewise take whichever chunk is next.
    decoding = sum(decoders) / len(decoders) if decoders else 0
    return single / max(fixed, pooled, decoding, total / cores)
each = " / ".join(f"{w / 1e6:.0f}" for w in workers) + " M" if workers else "-"
if workers and not hosted:
    each = f"{sum(workers) / 1e6:.0f} M shared ({each})"
def m(x):
    return "-" if x is None else f"{x / 1e6:.0f} M"
if hosted:
    each = f"shared with the front's thread; {each}"
decoding = " / ".join(f"{d / 1e6:.0f}" for d in decoders) + " M" if decoders else "(reader's thread)"
flowing = " / ".join(f"{d / 1e6:.0f}" for d in flows) + " M" if flows else "(dealer's thread)"
dealing = m(dealer) if dealer else "(same thread)"
if sequencer is not None:
    dealing += f" (sequencer {m(sequencer)})"
print(f"| {n} | {m(total)} | {m(reader)} | {decoding} | {flowing} | {dealing} | {each} | {m(merger)} | "
      f"{speedup(2):.2f}x | {speedup(4):.2f}x | {speedup(16):.2f}x | {speedup(64):.2f}x |")
PY
done
echo
echo "(bound = one thread's instructions / max(reader, sequencer, dealer, merger, each flow thread, the decoders' share,"
echo "the workers' share, total / cores); a share is those threads' instructions over their number: they take"
echo "whichever chunk or shard's batch is next, and under callgrind, which runs one thread at a time, how"
echo "the work fell to each (in brackets) is chance. 1 worker runs everything on one thread; with 2"
echo "workers one front thread reads and deals, and on two cores it and one worker thread share the"
echo "analysis; from 3 workers on, threads are planned as on that many cores (TRACETAIL_BENCH_CORES).)"
