#!/usr/bin/env bash
# Time and peak memory of tracetail on hostile traces (issue 14): a SYN flood, requests never
# answered, out-of-order floods, a header grown byte by byte, requests cut by gaps, DNS queries
# never answered, IPv6 fragments that never complete, heads that never end, rows held behind a
# response that never ends, HTTP/2 streams never answered, bursts of pipelined requests
# answered together (each with the default and a small
# budget; some rows put all held state under one `--memory-budget`). The traces come from
# `tracetail synth --hostile KIND`.
#
#   scripts/bench_hostile.sh                    # the release build of this tree
#   scripts/bench_hostile.sh OLD_BIN NEW_BIN    # before/after: one row per binary
#
# Writes a markdown table to stdout. Sizes are modest (each trace ≤ ~1 M packets; the machine
# may be shared); BENCH_SCALE=N multiplies them. A run is cut after BENCH_TIMEOUT seconds
# (default 300) and shown as such. BENCH_ONLY=REGEX runs only the traces whose name matches.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench}/hostile
mkdir -p "$work"
if [ $# -gt 0 ]; then
  bins=("$@")
else
  cargo build --release --quiet
  bins=(target/release/tracetail)
fi
gen=${bins[-1]} # the newest binary writes the traces (older ones lack --hostile)
scale=${BENCH_SCALE:-1}
limit=${BENCH_TIMEOUT:-300}

# name | kind | count | per | command
cases="syn-flood|syn-flood|$((500000 * scale))|1|http --json
no-responses|no-responses|$((2000 * scale))|150|http --json
out-of-order|out-of-order|$((100 * scale))|10000|http --json
one-conn-out-of-order|out-of-order|1|$((1000000 * scale))|http --json
far-apart|far-apart|$((10 * scale))|100000|http --json
header-byte-by-byte|byte-by-byte-header|1|$((1000000 * scale))|http --json --max-header-bytes 1073741824
gapped-requests|gapped-requests|1|$((50000 * scale))|http --json
dns-unanswered|dns-unanswered|$((500000 * scale))|1|dns --json
dns-unanswered|dns-unanswered|$((500000 * scale))|1|dns --json --max-dns-pending 4096 --max-flows 10000
ipv6-fragments|ipv6-fragments|$((500000 * scale))|64|dns --json
ipv6-fragments|ipv6-fragments|$((500000 * scale))|64|dns --json --max-fragments 64
syn-flood|syn-flood|$((500000 * scale))|1|http --json --memory-budget 64M
syn-flood|syn-flood|$((500000 * scale))|1|sessions
syn-flood|syn-flood|$((500000 * scale))|1|sessions --memory-budget 64M
dns-unanswered|dns-unanswered|$((500000 * scale))|1|dns --json --memory-budget 64M
ipv6-fragments|ipv6-fragments|$((500000 * scale))|64|dns --json --memory-budget 64M
open-heads|open-heads|$((5000 * scale))|60000|http --json
open-heads|open-heads|$((5000 * scale))|60000|http --json --memory-budget 64M
held-back|held-back|$((40000 * scale))|5|http --json
held-back|held-back|$((40000 * scale))|5|http --json --memory-budget 64M
syn-flood|syn-flood|$((500000 * scale))|1|sessions --json --http2 --memory-budget 64M
h2-streams|h2-streams|$((2000 * scale))|500|http --json
h2-streams|h2-streams|$((2000 * scale))|500|http --json --memory-budget 64M
pipelined-burst|pipelined-burst|$((10000 * scale))|100|http --json
pipelined-burst|pipelined-burst|$((10000 * scale))|100|http --json --memory-budget 64M
pipelined-burst|pipelined-burst|$((10000 * scale))|100|http --json --memory-budget 64M --threads 8"

echo "| trace | packets | command | binary | seconds | peak RSS (MiB) |"
echo "|---|---:|---|---|---:|---:|"
while IFS='|' read -r name kind count per command; do
  [[ $name =~ ${BENCH_ONLY:-.} ]] || continue
  file="$work/$name.pcap"
  [ -f "$file" ] || "$gen" synth --hostile "$kind" --count "$count" --per "$per" -o "$file"
  packets=$("$gen" summary --json "$file" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
  for bin in "${bins[@]}"; do
    log=$(mktemp)
    # shellcheck disable=SC2086 # the command is words on purpose
    if timeout "$limit" /usr/bin/time -f '%e %M' "$bin" $command "$file" > /dev/null 2> "$log"; then
      read -r secs kb < <(tail -1 "$log")
      mib=$(python3 -c "print(f'{$kb / 1024:.0f}')")
    else
      secs=">$limit (or failed)"; mib="-"
    fi
    echo "| $name | $packets | \`$command\` | $bin | $secs | $mib |"
    rm -f "$log"
  done
done <<< "$cases"
