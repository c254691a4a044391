#!/usr/bin/env python3
"""Tests of tracetail_spark.py against numpy and exact fractions.

    python3 spark/test_tracetail_spark.py                 # arithmetic only (no Spark)
    python3 spark/test_tracetail_spark.py FIXTURE_DIR     # + the Spark job in local[2]

FIXTURE_DIR comes from the Rust side (Parquet written by tracetail's own TableWriters, and the
same latencies as text):
    TRACETAIL_SPARK_FIXTURE=FIXTURE_DIR cargo test --features parquet \\
        --test export_spark_fixture -- --ignored
The Spark results are compared with numpy (`linear`, `inverted_cdf`) on the text file and with
exact fractions computed here from the sorted values; exits non-zero on any difference.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracetail_spark as ts  # noqa: E402

FAILURES: list[str] = []

# numpy interpolates at a floating-point position (n-1)*p: its rounding error (about 1e-16 of n)
# is multiplied by the gap between neighbours, which in a heavy tail is as large as the value,
# so numpy's linear percentiles are off by up to ~1e-12 relative (seen: 328642972.5963812 for
# the exact 328642972.597). Exactness is checked against Fractions; numpy is a sanity check.
NUMPY_LINEAR_RTOL = 1e-9


def check(cond: bool, msg: str) -> None:
    if not cond:
        FAILURES.append(msg)
        print(f"FAIL {msg}", file=sys.stderr)


def exact_linear(sorted_vals, q: Fraction) -> Fraction:
    n = len(sorted_vals)
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def exact_nearest_rank(sorted_vals, q: Fraction) -> int:
    return sorted_vals[max(1, math.ceil(q * len(sorted_vals))) - 1]


def numpy_rank_is_reliable(n: int, q: Fraction) -> bool:
    """numpy computes p/100*n in floating point: when the exact product is an integer it may land
    just above it and take the next rank (n=1000, p99.9 -> rank 1000 instead of 999). Compare with
    numpy only where that cannot happen; the exact Fraction check covers every case."""
    return (q * n).denominator != 1


def test_arithmetic() -> None:
    """Rank formulas against numpy on random data, including n = 1, 2 and ties."""
    rng = random.Random(7)
    percentiles = ts.parse_percentiles("0,1,25,50,90,95,99,99.9,99.99,100")
    check([k for k, _ in percentiles] == ["0", "1", "25", "50", "90", "95", "99", "99.9", "99.99", "100"], "keys")
    for n in [1, 2, 3, 10, 11, 999, 1000, 1001, 12345]:
        vals = sorted(rng.choice([rng.randrange(10**9), rng.randrange(50)]) for _ in range(n))
        values_at = {i + 1: v for i, v in enumerate(vals)}
        arr = np.array(vals, dtype=np.int64)
        for key, q in percentiles:
            check(ts.needed_ranks(n, [q]) <= set(values_at), f"ranks in range n={n}")
            nr = values_at[ts.nearest_rank(n, q)]
            check(nr == exact_nearest_rank(vals, q), f"nearest-rank exact n={n} p{key}")
            if numpy_rank_is_reliable(n, q):
                want_nr = int(np.percentile(arr, float(key), method="inverted_cdf"))
                check(nr == want_nr, f"nearest-rank n={n} p{key}: {nr} != numpy {want_nr}")
            lo, hi, frac = ts.linear_ranks(n, q)
            lin = values_at[lo] + (values_at[hi] - values_at[lo]) * frac
            check(lin == exact_linear(vals, q), f"linear exact n={n} p{key}")
            want_lin = float(np.percentile(arr, float(key), method="linear"))
            check(abs(float(lin) - want_lin) <= NUMPY_LINEAR_RTOL * max(1.0, abs(want_lin)), f"linear n={n} p{key}: {float(lin)} vs numpy {want_lin}")
        # The example of anchors.md: [1..9, 100]
    vals = list(range(1, 10)) + [100]
    q90 = Fraction(9, 10)
    check(exact_linear(vals, q90) == Fraction(181, 10), "anchors p90 linear = 18.1")
    check(vals[ts.nearest_rank(10, q90) - 1] == 9, "anchors p90 nearest-rank = 9")
    check(ts.capture_stem("d/web.pcap.gz") == "web" and ts.capture_stem("_x.pcap") == "c_x", "stem")


def load_truth(path: str, metric: str, key: str | None):
    groups: dict[str, list[int]] = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            v = row[metric]
            if v == "":
                continue
            groups.setdefault(row[key] if key else "", []).append(int(v))
    return groups


def compare_stats(label: str, got: dict, vals: list[int], percentiles) -> None:
    vals = sorted(vals)
    arr = np.array(vals, dtype=np.int64)
    check(got["count"] == len(vals), f"{label}: count {got['count']} != {len(vals)}")
    check(got["min"] == vals[0] and got["max"] == vals[-1], f"{label}: min/max")
    check(abs(got["mean"] - float(np.mean(arr))) <= 1e-9 * abs(float(np.mean(arr))), f"{label}: mean {got['mean']}")
    if len(vals) > 1:
        sd = float(np.std(arr, ddof=1))
        check(abs(got["stddev"] - sd) <= 1e-9 * max(1.0, sd), f"{label}: stddev {got['stddev']} vs {sd}")
    for key, q in percentiles:
        nr = got["by_method"]["nearest-rank"][key]
        check(nr == exact_nearest_rank(vals, q), f"{label}: nearest-rank p{key} {nr} != exact")
        if numpy_rank_is_reliable(len(vals), q):
            want = int(np.percentile(arr, float(key), method="inverted_cdf"))
            check(nr == want, f"{label}: nearest-rank p{key} {nr} != numpy {want}")
        lin = got["by_method"]["linear"][key]
        exact = exact_linear(vals, q)
        check(lin == ts.json_number(exact), f"{label}: linear p{key} {lin} != exact {exact}")
        np_lin = float(np.percentile(arr, float(key), method="linear"))
        check(abs(lin - np_lin) <= NUMPY_LINEAR_RTOL * max(1.0, abs(np_lin)), f"{label}: linear p{key} {lin} vs numpy {np_lin}")
        check(got["percentiles"][key] == lin, f"{label}: primary method is linear")


def test_spark(fixture: str) -> None:
    percentiles = ts.parse_percentiles(ts.DEFAULT_PERCENTILES)
    runs = [
        ("ttfb_ns", "server", "truth_http.tsv", "server"),
        ("total_ns", "host", "truth_http.tsv", "host"),
        ("server_ns", "uri", "truth_http.tsv", "uri"),
        ("tshark_ns", "client", "truth_http.tsv", "client"),
        ("latency_ns", "status", "truth_dns.tsv", "rcode"),
    ]
    out = tempfile.mkdtemp(prefix="tracetail-spark-test-")
    for metric, by, truth_file, truth_col in runs:
        started = time.time()
        json_out = os.path.join(out, f"{metric}.json")
        argv = ["--master", "local[2]", "--parquet", os.path.join(fixture, "parquet"), "--metric", metric, "--by", by, "--json-out", json_out]
        if metric == "ttfb_ns":
            argv.append("--cross-check")
        rc = ts.main(argv)
        check(rc == 0, f"{metric}: exit {rc}")
        with open(json_out) as f:
            result = json.load(f)
        truth_path = os.path.join(fixture, truth_file)
        overall = load_truth(truth_path, metric, None)[""]
        compare_stats(f"{metric} overall", result["overall"], overall, percentiles)
        groups = load_truth(truth_path, metric, truth_col)
        check(sorted(result["groups"]) == sorted(groups), f"{metric}: group keys {sorted(result['groups'])} != {sorted(groups)}")
        for key, vals in groups.items():
            if key in result["groups"]:
                compare_stats(f"{metric} {by}={key}", result["groups"][key], vals, percentiles)
        if "spark_builtin" in result:
            disc = result["spark_builtin"]["percentile_disc"]
            check(all(disc[k] == result["overall"]["by_method"]["nearest-rank"][k] for k in disc), "percentile_disc == nearest-rank")
        print(f"spark {metric} by {by}: {len(groups)} groups checked in {time.time() - started:.1f} s", file=sys.stderr)


def main() -> int:
    test_arithmetic()
    print(f"arithmetic: {'OK' if not FAILURES else 'FAILED'}", file=sys.stderr)
    if len(sys.argv) > 1:
        test_spark(sys.argv[1])
    print(f"{'OK' if not FAILURES else f'{len(FAILURES)} FAILURES'}", file=sys.stderr)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
