#!/usr/bin/env bash
# End-to-end check of the Spark path against tracetail's own percentiles.
#
#   scripts/ci_spark.sh TRACETAIL_BIN [WORKDIR]
#
# TRACETAIL_BIN must be built with `--features parquet`. Builds nothing. Steps:
#   1. `tracetail synth` writes three captures (different seeds and sizes) into WORKDIR/captures;
#   2. spark/tracetail_spark.py (local[2]) exports them with TRACETAIL_BIN and computes exact
#      percentiles of $METRIC; scripts/check_parquet.py checks the export;
#   3. `tracetail latency F1 F2 F3 --json --method linear|nearest-rank` must give EXACTLY the
#      Spark numbers (count and every common percentile);
#   4. `tracetail latency Fi --save-hdr` per file + `tracetail merge *.hdr --json` must be within
#      $HDR_RTOL (0.1 %: HdrHistogram with 3 significant digits) of the exact nearest-rank values.
# Exits non-zero on the first failing step; prints what was compared.
#
# Environment (defaults): PYTHON=python3, SPARK_MASTER=local[2], METRIC=ttfb_ns (Spark's name),
# TT_LATENCY_ARGS="" (extra args for `tracetail latency` selecting the same metric, if its
# default is not time to first byte), REQUESTS="3000 2000 1001", SEEDS="1 2 3",
# LINEAR_RTOL=0 (0 = exact; see the comparison below), HDR_RTOL=0.001.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    sed -n '2,20p' "$0" >&2
    exit 2
fi
BIN=$(realpath "$1")
WORK=${2:-$(mktemp -d /tmp/tracetail-ci-spark.XXXXXX)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
SPARK_MASTER=${SPARK_MASTER:-local[2]}
METRIC=${METRIC:-ttfb_ns}
TT_LATENCY_ARGS=${TT_LATENCY_ARGS:-}
read -r -a REQUESTS <<< "${REQUESTS:-3000 2000 1001}"
read -r -a SEEDS <<< "${SEEDS:-1 2 3}"
export LINEAR_RTOL=${LINEAR_RTOL:-0}
export HDR_RTOL=${HDR_RTOL:-0.001}

step() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'ci_spark: FAIL: %s\n' "$*" >&2; exit 1; }

[[ -x $BIN ]] || die "$BIN is not an executable"
mkdir -p "$WORK"/captures "$WORK"/hdr
rm -rf "$WORK"/out "$WORK"/captures/* "$WORK"/hdr/*
echo "ci_spark: work dir $WORK, binary $BIN" >&2

step "0. the binary has Parquet support"
if ! "$BIN" export --help > "$WORK"/export-help.txt 2>&1; then
    cat "$WORK"/export-help.txt >&2
    die "'$BIN export --help' failed: build it with 'cargo build --release --features parquet'"
fi

step "1. synthetic captures"
captures=()
for i in "${!SEEDS[@]}"; do
    f="$WORK/captures/synth${SEEDS[$i]}.pcap"
    "$BIN" synth -o "$f" --requests "${REQUESTS[$i]}" --seed "${SEEDS[$i]}"
    captures+=("$f")
done
ls -l "$WORK"/captures >&2

step "2. Spark job ($SPARK_MASTER): export + exact percentiles of $METRIC"
start=$(date +%s)
"$PYTHON" "$HERE/spark/tracetail_spark.py" --master "$SPARK_MASTER" \
    --captures "$WORK/captures" --out "$WORK/out" --tracetail-bin "$BIN" \
    --metric "$METRIC" --detail --cross-check --json-out "$WORK/spark.json"
echo "ci_spark: Spark job took $(( $(date +%s) - start )) s" >&2
"$PYTHON" "$HERE/scripts/check_parquet.py" "$WORK/out" --expect-captures "${#captures[@]}"

step "3. tracetail latency on the same captures"
# shellcheck disable=SC2086 # TT_LATENCY_ARGS is a list of words on purpose
"$BIN" latency "${captures[@]}" --json --method linear $TT_LATENCY_ARGS > "$WORK/latency-linear.json"
# shellcheck disable=SC2086
"$BIN" latency "${captures[@]}" --json --method nearest-rank $TT_LATENCY_ARGS > "$WORK/latency-nearest-rank.json"

step "4. per-capture HdrHistograms, merged"
hdrs=()
for f in "${captures[@]}"; do
    h="$WORK/hdr/$(basename "$f" .pcap).hdr"
    # shellcheck disable=SC2086
    "$BIN" latency "$f" --save-hdr "$h" $TT_LATENCY_ARGS > /dev/null
    hdrs+=("$h")
done
"$BIN" merge "${hdrs[@]}" --json > "$WORK/merged.json"

step "5. compare"
"$PYTHON" - "$WORK" <<'PY'
import json, os, sys
from decimal import Decimal
from fractions import Fraction

work = sys.argv[1]
linear_rtol = Fraction(Decimal(os.environ["LINEAR_RTOL"]))
hdr_rtol = Fraction(Decimal(os.environ["HDR_RTOL"]))

def load(name):
    # Decimal keeps the printed digits: an "exact" comparison must not go through a float.
    with open(os.path.join(work, name)) as f:
        return json.load(f, parse_float=Decimal)

def norm(key):
    return format(Decimal(str(key)).normalize(), "f")

def percentiles(doc, name):
    node = doc.get("overall", doc)
    p = node.get("percentiles")
    if not isinstance(p, dict) or not p:
        sys.exit(f"ci_spark: FAIL: {name} has no overall.percentiles object")
    return node, {norm(k): v for k, v in p.items()}

spark = load("spark.json")
s_over = spark["overall"]
s_lin = {norm(k): v for k, v in s_over["by_method"]["linear"].items()}
s_nr = {norm(k): v for k, v in s_over["by_method"]["nearest-rank"].items()}
ranks = {norm(k): v for k, v in s_over["ranks"].items()}
problems, compared = [], []

for method, spark_values in (("linear", s_lin), ("nearest-rank", s_nr)):
    node, tt = percentiles(load(f"latency-{method}.json"), f"latency-{method}.json")
    if "count" in node and int(node["count"]) != s_over["count"]:
        problems.append(f"{method}: count tracetail {node['count']} != spark {s_over['count']}")
    common = sorted(set(tt) & set(spark_values), key=Decimal)
    missing = {"50", "90", "99"} - set(common)
    if missing:
        problems.append(f"{method}: percentiles {sorted(missing)} missing from tracetail or spark")
    for key in common:
        got = tt[key]
        if method == "nearest-rank":
            ok = Decimal(got) == Decimal(spark_values[key])
            detail = f"{got} vs {spark_values[key]}"
        else:
            num, den = ranks[key]["linear_exact"].split("/")
            exact = Fraction(int(num), int(den))
            got_f = Fraction(got)
            # Exact: the same rational, or its correctly rounded double printed shortest.
            ok = got_f == exact or float(got) == float(exact)
            if not ok and linear_rtol > 0:
                ok = abs(got_f - exact) <= linear_rtol * abs(exact)
            detail = f"{got} vs exact {exact.numerator}/{exact.denominator} (~{float(exact)!r})"
        compared.append(f"{method} p{key}: {'ok ' if ok else 'BAD'} {detail}")
        if not ok:
            problems.append(f"{method} p{key}: tracetail {detail}")

merged = load("merged.json")
_, hdr = percentiles(merged, "merged.json")
for key in sorted(set(hdr) & set(s_nr), key=Decimal):
    got = Fraction(hdr[key])
    # HdrHistogram reads the value at its own rank, round(p*N) (C/Java/Python: floor(p*N + 0.5)),
    # which can be one rank below or above the exact nearest rank ceil(p*N); its precision
    # promise (3 significant digits) is about the value at that rank: accept any of the three.
    candidates = [Fraction(s_nr[key]), Fraction(ranks[key]["next_value"]), Fraction(ranks[key]["previous_value"])]
    errs = [abs(got - c) / c if c else abs(got) for c in candidates]
    ok = min(errs) <= hdr_rtol
    compared.append(f"hdr p{key}: {'ok ' if ok else 'BAD'} {hdr[key]} vs exact {s_nr[key]} (rel {float(errs[0]):.2e})")
    if not ok:
        problems.append(f"hdr p{key}: merged {hdr[key]} vs exact nearest-rank {s_nr[key]} (rel {float(min(errs)):.2e} > {float(hdr_rtol)})")
if not set(hdr) & set(s_nr):
    problems.append("merged.json shares no percentile key with the Spark output")

print("\n".join(compared), file=sys.stderr)
if problems:
    print("\n".join(f"ci_spark: FAIL: {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"ci_spark: OK ({len(compared)} values compared, {s_over['count']} samples)", file=sys.stderr)
PY
