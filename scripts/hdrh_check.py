#!/usr/bin/env python3
"""Decode a tracetail .hdr file with Python's `hdrh` (pip install hdrhistogram) and print
total count, p50, p99, p99.9 and max as JSON, for cross-checking the V2 encoding."""
import json
import sys

from hdrh.histogram import HdrHistogram

with open(sys.argv[1]) as f:
    line = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")][0]
h = HdrHistogram.decode(line.strip())
print(json.dumps({
    "count": h.get_total_count(),
    "p50": h.get_value_at_percentile(50),
    "p99": h.get_value_at_percentile(99),
    "p99.9": h.get_value_at_percentile(99.9),
    "max": h.get_max_value(),
}))
