#!/usr/bin/env bash
# Regenerates the sample capture that ships with the repository (samples/demo.pcap.gz) and
# its ground truth, with tracetail's own generator: 800 HTTP transactions over IPv4 and IPv6
# with Pareto(1.5, 4 ms) server latency, keep-alive, pipelining, chunked bodies,
# retransmissions, reordering and DNS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- synth -o samples/demo.pcap.gz --requests 800 --seed 2026 \
  --latency pareto --pareto-shape 1.5 --pareto-xm-ms 4 --body-scale 0.15 \
  --truth samples/demo.truth.csv --dns-truth samples/demo.dns.truth.csv
