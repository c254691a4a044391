#!/usr/bin/env bash
# Where one thread's instructions go, by command and by stage of `http --json`, counted with
# callgrind: deterministic, so two versions compare on any day, and the arithmetic behind the
# per-core goal ("a third of the header walk") can be redone by anyone.
#
#   scripts/bench_budget.sh FILE        # a cut of a trace: callgrind runs ~50x slower
#
# The commands run with `--threads 1`. `summary` is the header walk (reading, decoding,
# counting); each other command adds its own work to it. The stages of `http --json` are
# the inclusive instructions of the functions that enter them (a renamed function makes the
# script fail, not print a wrong table):
#   flow table          FlowTable::on_packet, Dealer::evict
#   TCP connections     TransactionAnalyzer::on_transport without what it hands the
#                       analyzers (connection setup and teardown, the seam, reassembly)
#   HTTP analyzer       AnalyzerSink::data (parsing, pairing, the transaction's record),
#                       of which head parsing: parse_head
#   merge and rows      Merger::epoch (time order; on one thread it also writes the rows),
#                       of which the JSON rows: JsonRows::push_row
#   the rest            reading, decoding, counting, dealing: the total less the above
# Beside them, the floor (examples/http_floor.rs): the least work that writes a row per HTTP/1
# transaction on the same reader and decoder, and none of what makes the rows right.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: scripts/bench_budget.sh FILE}
bin=${BENCH_BIN:-target/release/tracetail}
cargo build --release --quiet --example http_floor
floor=target/release/examples/http_floor
command -v valgrind > /dev/null || { echo "valgrind is not installed: no instruction budget" >&2; exit 1; }
command -v callgrind_annotate > /dev/null || { echo "callgrind_annotate is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap "rm -rf \"$work\"" EXIT

packets=$("$bin" summary --json "$file" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
# Runs one command under callgrind; its profile is $work/<name>.cg, its output $work/<name>.out.
profile() { # name, command... (of tracetail; `floor`: the floor)
  local name=$1
  shift
  local run=("$bin" "$@" --threads 1 "$file")
  [ "$name" != floor ] || run=("$floor" "$file")
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" \
    "${run[@]}" > "$work/$name.out" 2> "$work/$name.log" ||
    { echo "callgrind failed on $*: $(tail -3 "$work/$name.log")" >&2; exit 1; }
}
profile summary summary
profile sessions sessions
profile tcp tcp --json
profile latency latency
profile http http --json
profile floor
transactions=$(wc -l < "$work/http.out")
floor_rows=$(wc -l < "$work/floor.out")
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$work/http.cg" > "$work/http.txt" 2> /dev/null

python3 - "$work" "$file" "$packets" "$transactions" "$floor_rows" <<'PY'
import os, re, sys
work, file, packets, transactions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
floor_rows = int(sys.argv[5])

def total(name):
    with open(os.path.join(work, name + ".cg")) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    sys.exit(f"no total in the {name} profile")

# callgrind_annotate's inclusive lines: "1,234 (5.6%)  file:function [object]". A function
# has several lines (code inlined from other files, debug info naming a file two ways): the
# largest is the whole function.
inclusive = {}
with open(os.path.join(work, "http.txt")) as f:
    for line in f:
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+[^:]*:(.*?)(?: \[[^\]]*\])?\s*$", line)
        if m:
            name, n = m.group(2), int(m.group(1).replace(",", ""))
            inclusive[name] = max(inclusive.get(name, 0), n)

def cost(function):
    hits = [n for name, n in inclusive.items() if name == function or name.endswith("::" + function)]
    if not hits:
        sys.exit(f"bench_budget: no function {function} in the profile of http --json (renamed? update the script)")
    return max(hits)

def per(n, of):
    return f"{n / of:,.0f}" if of else "-"

commands = [("summary", "summary"), ("sessions", "sessions"), ("tcp", "tcp --json"),
            ("latency", "latency"), ("http", "http --json")]
walk = total("summary")
print(f"Instructions on one thread, `{os.path.basename(file)}`: {packets:,} packets, "
      f"{transactions:,} HTTP transactions (callgrind):")
print()
print("| command | instructions | a packet | an HTTP transaction | against `summary` |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, command in commands:
    n = total(name)
    print(f"| `{command}` | {n / 1e6:.1f} M | {per(n, packets)} | {per(n, transactions)} | {n / walk:.2f}x |")
n = total("floor")
print(f"| the floor, `examples/http_floor.rs` ({floor_rows:,} rows) | {n / 1e6:.1f} M | {per(n, packets)} "
      f"| {per(n, transactions)} | {n / walk:.2f}x |")

everything = total("http")
flows = cost("FlowTable::on_packet") + cost("Dealer::evict")
transport = cost("TransactionAnalyzer::on_transport")
analyzers = cost("AnalyzerSink as tracetail::analyzers::reassembly::StreamSink>::data")
heads = cost("parse_head")
merge = cost("Merger::epoch")
rows = cost("JsonRows<R>::push_row")
stages = [
    ("flow table", flows),
    ("TCP connections (setup, seam, reassembly)", transport - analyzers),
    ("HTTP analyzer", analyzers),
    ("&nbsp;&nbsp;of which head parsing", heads),
    ("merge and rows", merge),
    ("&nbsp;&nbsp;of which JSON rows", rows),
    ("reading, decoding, counting, dealing", everything - flows - transport - merge),
]
print()
print("Where `http --json`'s go:")
print()
print("| stage | instructions | a packet | an HTTP transaction | share |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, n in stages:
    print(f"| {name} | {n / 1e6:.1f} M | {per(n, packets)} | {per(n, transactions)} | {100 * n / everything:.1f} % |")
allowed = 3 * walk
print()
print(f"A third of the header walk's speed, at `summary`'s instructions a second, allows "
      f"{per(allowed, packets)} instructions a packet; `http --json` runs {per(everything, packets)} "
      f"({everything / allowed:.2f}x that), the floor {per(total('floor'), packets)}. Both also run "
      f"fewer instructions a second than `summary` (time them: scripts/bench.sh).")
PY
