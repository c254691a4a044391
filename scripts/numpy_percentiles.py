#!/usr/bin/env python3
"""Ground truth for tracetail's exact percentiles: numpy's np.percentile.

Writes tests/data/numpy_percentiles.json with seeded samples (integer nanoseconds and a few
float data sets) and np.percentile(x, q, method=...) for 'linear' (numpy's default) and
'inverted_cdf' (nearest-rank). Re-run after changing the cases:

    python3 scripts/numpy_percentiles.py
"""
import json
import os

import numpy as np

QS = [0, 1, 25, 50, 90, 95, 99, 99.9, 99.99, 100]


def int_cases(rng):
    for n in [1, 2, 3, 5, 10, 100, 1000]:
        # Latency-like: lognormal around 2 ms, integer nanoseconds.
        yield f"lognormal_n{n}", np.round(rng.lognormal(np.log(2e6), 0.6, n)).astype(np.int64)
    yield "ties_small_range", rng.integers(0, 5, 997).astype(np.int64)
    yield "all_equal", np.full(321, 123_456_789, dtype=np.int64)
    yield "two_values", np.array([7] * 50 + [1_000_000] * 3, dtype=np.int64)
    # Heavy tail: Pareto (alpha 1.2) latencies, 1 ms minimum.
    yield "pareto_heavy_tail", np.round((rng.pareto(1.2, 5000) + 1) * 1e6).astype(np.int64)
    yield "with_negatives", rng.integers(-1000, 1000, 77).astype(np.int64)
    yield "numpy_doc_example", np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], dtype=np.int64)
    yield "large_values", (rng.integers(0, 10**6, 1001) + 1_700_000_000_000_000_000).astype(np.int64)


def float_cases(rng):
    yield "float_normal_n37", rng.normal(10.0, 3.0, 37)
    yield "float_uniform_n1000", rng.uniform(-1.0, 1.0, 1000)
    yield "float_n1", np.array([0.1])


def main():
    rng = np.random.default_rng(20261127)
    cases = []
    for kind, gen in (("int", int_cases), ("float", float_cases)):
        for name, x in gen(rng):
            cases.append({
                "name": name,
                "kind": kind,
                "samples": x.tolist(),
                "q": QS,
                "linear": [float(np.percentile(x, q, method="linear")) for q in QS],
                # inverted_cdf returns an observed sample: kept as an exact integer for int data
                # (a float would lose digits of values near 1.7e18).
                "inverted_cdf": [np.percentile(x, q, method="inverted_cdf").item() for q in QS],
            })
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "numpy_percentiles.json")
    with open(out, "w") as f:
        json.dump({"numpy_version": np.__version__, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
