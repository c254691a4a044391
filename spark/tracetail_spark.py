#!/usr/bin/env python3
"""Scale-out tail-latency percentiles over many captures with Spark and `tracetail export`.

Two phases:

1. Export (skipped with --parquet): the capture files of --captures are distributed to the
   executors (one task per capture by default); each task runs `tracetail export FILE -o OUT`,
   which writes OUT/{flows,http,dns}/<stem>.parquet. OUT must be shared storage visible to every
   executor (NFS, or a Hadoop URI: then each task writes locally and uploads with --put-cmd).
2. Percentiles: Spark SQL reads OUT/http (or OUT/dns) and computes, overall and per group,
   count, min, mean, stddev, max and EXACT percentiles with two definitions:
     linear        numpy's default (Hyndman-Fan 7): position (n-1)p, interpolate.
                   Spark's percentile() is the same definition but in double arithmetic; here the
                   interpolation is done with exact fractions.
     nearest-rank  the value at rank ceil(p/100 * n) (min rank 1), numpy 'inverted_cdf'.
   Ranks come from a distributed global sort + zipWithIndex, so no group has to fit one task.

The JSON printed (or written to --json-out) is shaped like `tracetail latency --json`:
  {"metric": "ttfb_ns", "method": "linear", "overall": {"count": N, "min": .., "max": ..,
   "mean": .., "stddev": .., "percentiles": {"50": ns, ...}, "by_method": {...}}, "groups": {..}}

Run `python3 tracetail_spark.py --help` for the options; see README.md for spark-submit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import posixpath
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction

DEFAULT_PERCENTILES = "50,90,95,99,99.9,99.99"

# metric name -> (table, column). Short names are accepted for convenience.
METRICS = {
    "ttfb_ns": ("http", "ttfb_ns"),
    "total_ns": ("http", "total_ns"),
    "server_ns": ("http", "server_ns"),
    "tshark_ns": ("http", "tshark_ns"),
    "latency_ns": ("dns", "latency_ns"),
}
METRIC_ALIASES = {
    "ttfb": "ttfb_ns",
    "total": "total_ns",
    "server": "server_ns",
    "tshark": "tshark_ns",
    "dns": "latency_ns",
    "dns_latency_ns": "latency_ns",
}
GROUPINGS = ("server", "host", "uri", "client", "status")
METHODS = ("linear", "nearest-rank")
NO_GROUP_KEY = "(none)"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")


# ---------------------------------------------------------------------------------------------
# Helpers shared by driver and executors (must stay picklable: plain functions).


def capture_stem(name: str) -> str:
    """Mirror of tracetail::export::capture_stem (file name of the exported Parquet)."""
    base = posixpath.basename(name.rstrip("/"))
    stem = base
    for suffix in COMPRESSION_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for suffix in (".pcapng", ".pcap", ".cap"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if not stem or name == "-":
        return "stdin"
    if stem[0] in "_.":
        return "c" + stem
    return stem


def is_capture_name(name: str) -> bool:
    base = name
    for suffix in COMPRESSION_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.endswith(CAPTURE_SUFFIXES)


def local_path_of(uri: str) -> str | None:
    """The local filesystem path of a `file:` URI or plain path; None for other schemes."""
    if uri.startswith("file://"):
        return uri[len("file://") :] or "/"
    if uri.startswith("file:"):
        return uri[len("file:") :]
    if "://" in uri:
        return None
    return uri


def resolve_binary(path: str) -> str:
    """On a cluster the binary arrives through --files: SparkFiles has it under its base name.
    In local mode (or with a path valid on every node) the given path is used as is."""
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(path))
        if os.path.isfile(shipped):
            if not os.access(shipped, os.X_OK):
                try:
                    os.chmod(shipped, 0o755)
                except OSError:
                    # Read-only SparkFiles dir: run a private executable copy.
                    copy = os.path.join(tempfile.mkdtemp(prefix="tracetail-bin-"), "tracetail")
                    shutil.copy(shipped, copy)
                    os.chmod(copy, 0o755)
                    shipped = copy
            return shipped
    except Exception:  # noqa: BLE001 - not in a Spark worker, or nothing shipped
        pass
    return path


def export_partition(captures, tracetail_bin, out_uri, fetch_cmd, put_cmd, timeout_s):
    """Executor side: run `tracetail export` on each capture of this partition.

    Yields one result dict per capture; failures are reported, not raised, so the driver can
    list every failed capture at once."""
    binary = resolve_binary(tracetail_bin)
    out_local = local_path_of(out_uri)
    for capture in captures:
        started = time.time()
        work = tempfile.mkdtemp(prefix="tracetail-export-")
        result = {"capture": capture, "ok": False, "seconds": 0.0, "error": ""}
        try:
            source = local_path_of(capture)
            if source is None:
                # Not on a shared filesystem: copy the capture next to the task first.
                source = os.path.join(work, posixpath.basename(capture))
                cmd = fetch_cmd.format(src=shlex.quote(capture), dst=shlex.quote(source))
                subprocess.run(cmd, shell=True, check=True, capture_output=True, timeout=timeout_s)
            target = out_local if out_local is not None else os.path.join(work, "out")
            proc = subprocess.run(
                [binary, "export", source, "-o", target],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            if proc.returncode != 0:
                result["error"] = f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            else:
                if out_local is None:
                    stem = capture_stem(capture)
                    for table in ("flows", "http", "dns"):
                        src = os.path.join(target, table, stem + ".parquet")
                        dst = f"{out_uri.rstrip('/')}/{table}/{stem}.parquet"
                        cmd = put_cmd.format(src=shlex.quote(src), dst=shlex.quote(dst))
                        subprocess.run(
                            cmd, shell=True, check=True, capture_output=True, timeout=timeout_s
                        )
                result["ok"] = True
                result["log"] = proc.stderr.strip()[-500:]
        except subprocess.CalledProcessError as e:
            result["error"] = f"{e.cmd}: exit {e.returncode}: {(e.stderr or b'').decode(errors='replace')[-2000:]}"
        except Exception as e:  # noqa: BLE001 - reported to the driver
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
            result["seconds"] = round(time.time() - started, 3)
        yield result


# ---------------------------------------------------------------------------------------------
# Exact percentile arithmetic (pure Python, unit-tested without Spark).


def parse_percentiles(text: str) -> list[tuple[str, Fraction]]:
    """'50,99.9' -> [('50', 1/2), ('99.9', 999/1000)]: JSON key and exact quantile."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        d = Decimal(item)
        if not (0 <= d <= 100):
            raise ValueError(f"percentile {item} not in [0, 100]")
        key = format(d.normalize(), "f")
        out.append((key, Fraction(d) / 100))
    if not out:
        raise ValueError("no percentiles given")
    return out


def nearest_rank(n: int, q: Fraction) -> int:
    """1-based rank of the nearest-rank percentile: ceil(q*n), at least 1."""
    return max(1, -((-q.numerator * n) // q.denominator))


def linear_ranks(n: int, q: Fraction) -> tuple[int, int, Fraction]:
    """1-based ranks (lo, hi) around position (n-1)q and the fraction between them."""
    pos = (n - 1) * q
    lo = pos.numerator // pos.denominator
    frac = pos - lo
    hi = min(lo + 1, n - 1)
    return lo + 1, hi + 1, frac


def needed_ranks(n: int, quantiles) -> set[int]:
    ranks = set()
    for q in quantiles:
        r = nearest_rank(n, q)
        ranks.update((max(r - 1, 1), r, min(r + 1, n)))
        lo, hi, _ = linear_ranks(n, q)
        ranks.update((lo, hi))
    return ranks


def json_number(x: Fraction):
    """Exact integers stay integers; other values become the nearest double."""
    if x.denominator == 1:
        return int(x)
    return float(x)  # int/int true division: correctly rounded


def summarize(n, vmin, vmax, total, total_sq, values_at, percentiles, primary, detail):
    """Build one stats object from exact aggregates and the values at the needed ranks."""
    if n == 0:
        return {"count": 0, "percentiles": {}, "by_method": {m: {} for m in METHODS}}
    mean = Fraction(total, n)
    stddev = None
    if n > 1:
        var = Fraction(n * total_sq - total * total, n * (n - 1))
        stddev = math.sqrt(var) if var > 0 else 0.0
    lin, nr, ranks = {}, {}, {}
    for key, q in percentiles:
        lo, hi, frac = linear_ranks(n, q)
        exact = values_at[lo] + (values_at[hi] - values_at[lo]) * frac
        lin[key] = json_number(exact)
        r = nearest_rank(n, q)
        nr[key] = values_at[r]
        if detail:
            ranks[key] = {
                "nearest_rank": r,
                "next_value": values_at[min(r + 1, n)],
                "previous_value": values_at[max(r - 1, 1)],
                "linear_lo_rank": lo,
                "linear_exact": f"{exact.numerator}/{exact.denominator}",
            }
    out = {
        "count": n,
        "min": vmin,
        "max": vmax,
        "mean": float(mean),
        "stddev": stddev,
        "percentiles": lin if primary == "linear" else nr,
        "by_method": {"linear": lin, "nearest-rank": nr},
    }
    if detail:
        out["ranks"] = ranks
    return out


# ---------------------------------------------------------------------------------------------
# Driver.


def list_captures(spark, captures_uri: str, recursive: bool) -> list[str]:
    """Capture files under captures_uri, as fully qualified URIs, through Hadoop's FileSystem
    (so file:, hdfs:, s3a: ... all work the way spark.read does)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    root = jvm.org.apache.hadoop.fs.Path(captures_uri)
    fs = root.getFileSystem(conf)
    found = []
    pending = [root]
    while pending:
        for status in fs.listStatus(pending.pop()):
            path = status.getPath()
            name = path.getName()
            if name.startswith((".", "_")):
                continue
            if status.isDirectory():
                if recursive:
                    pending.append(path)
            elif is_capture_name(name):
                found.append(path.toString())
    return sorted(found)


def run_export(spark, args, log) -> None:
    captures = list_captures(spark, args.captures, args.recursive)
    if not captures:
        raise SystemExit(f"no capture files (*.pcap, *.pcapng, *.cap, optionally .gz/.zst) in {args.captures}")
    stems = {}
    for c in captures:
        stems.setdefault(capture_stem(c), []).append(c)
    clashes = {s: cs for s, cs in stems.items() if len(cs) > 1}
    if clashes:
        raise SystemExit(f"captures share an output name (stem): {clashes}")
    n = args.partitions or len(captures)
    log(f"exporting {len(captures)} captures in {n} tasks to {args.out}")
    out_local = local_path_of(args.out)
    if out_local is not None:
        os.makedirs(out_local, exist_ok=True)
    t0 = time.time()
    sc = spark.sparkContext
    bin_path, out_uri = args.tracetail_bin, args.out
    fetch_cmd, put_cmd, timeout_s = args.fetch_cmd, args.put_cmd, args.task_timeout
    results = (
        sc.parallelize(captures, n)
        .mapPartitions(
            lambda part: export_partition(part, bin_path, out_uri, fetch_cmd, put_cmd, timeout_s)
        )
        .collect()
    )
    failed = [r for r in results if not r["ok"]]
    log(
        f"export: {len(results) - len(failed)}/{len(results)} captures ok in {time.time() - t0:.1f} s "
        f"(task seconds: {sum(r['seconds'] for r in results):.1f})"
    )
    if failed:
        for r in failed:
            log(f"export FAILED {r['capture']}: {r['error']}")
        raise SystemExit(2)


def group_column(table: str, by: str | None):
    from pyspark.sql import functions as F

    if by is None:
        return F.lit("")
    ip = F.col("server_ip") if by == "server" else F.col("client_ip")
    if by == "server":
        # ip:port, IPv6 in brackets, like a URL authority.
        host = F.when(F.col("server_ip").contains(":"), F.concat(F.lit("["), ip, F.lit("]"))).otherwise(ip)
        key = F.concat(host, F.lit(":"), F.col("server_port").cast("string"))
    elif by == "client":
        key = ip
    elif by in ("host", "uri"):
        key = F.col(by) if table == "http" else F.col("query_name")
    elif by == "status":
        key = F.col("status" if table == "http" else "rcode").cast("string")
    else:
        raise ValueError(by)
    return F.coalesce(key, F.lit(NO_GROUP_KEY))


def exact_table(spark, df, value_col, group, percentiles, primary, detail):
    """{group key: stats object} for `value_col` of df, exactly (see module docs)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    base = df.select(group.alias("g"), F.col(value_col).cast("long").alias("v")).where(F.col("v").isNotNull())
    # Global sort by (group, value): Spark range-partitions it across the executors; the index
    # of each row in that order minus its group's first index is its rank within the group.
    indexed_rdd = base.orderBy("g", "v").rdd.zipWithIndex().map(lambda rv: (rv[0][0], rv[0][1], rv[1]))
    schema = StructType(
        [StructField("g", StringType(), False), StructField("v", LongType(), False), StructField("idx", LongType(), False)]
    )
    indexed = spark.createDataFrame(indexed_rdd, schema).cache()
    exact_int = "decimal(38,0)"
    stats = indexed.groupBy("g").agg(
        F.min("idx").alias("offset"),
        F.count(F.lit(1)).alias("n"),
        F.min("v").alias("vmin"),
        F.max("v").alias("vmax"),
        F.sum(F.col("v").cast(exact_int)).alias("total"),
        F.sum((F.col("v").cast(exact_int) * F.col("v").cast(exact_int))).alias("total_sq"),
    )
    stats_rows = {r["g"]: r for r in stats.collect()}

    # Ranks to fetch, as integer SQL over n (same formulas as nearest_rank/linear_ranks).
    conds = []
    for _, q in percentiles:
        num, den = q.numerator, q.denominator
        nr = f"greatest(1, (n * {num} + {den - 1}) div {den})"
        lo = f"(((n - 1) * {num}) div {den} + 1)"
        conds += [
            f"rank = {nr}",
            f"rank = least({nr} + 1, n)",
            f"rank = greatest({nr} - 1, 1)",
            f"rank = {lo}",
            f"rank = least({lo} + 1, n)",
        ]
    picked = (
        indexed.join(F.broadcast(stats.select("g", "offset", "n")), "g")
        .withColumn("rank", F.col("idx") - F.col("offset") + 1)
        .where(F.expr(" OR ".join(conds)))
        .select("g", "rank", "v")
        .collect()
    )
    values = {}
    for r in picked:
        values.setdefault(r["g"], {})[r["rank"]] = r["v"]
    indexed.unpersist()

    out = {}
    for g, s in stats_rows.items():
        n = s["n"]
        vals = values.get(g, {})
        missing = needed_ranks(n, [q for _, q in percentiles]) - set(vals)
        if missing:
            raise RuntimeError(f"internal error: ranks {sorted(missing)} of group {g!r} not fetched")
        out[g] = summarize(
            n, s["vmin"], s["vmax"], int(s["total"]), int(s["total_sq"]), vals, percentiles, primary, detail
        )
    return out


def builtin_cross_check(df, value_col, percentiles, log) -> dict:
    """Spark's own percentile() (double arithmetic) and percentile_disc, overall, for comparison."""
    from pyspark.sql import functions as F

    qs = [float(q) for _, q in percentiles]
    exprs = [F.expr(f"percentile({value_col}, array({','.join(repr(q) for q in qs)}))").alias("lin")]
    for i, q in enumerate(qs):
        exprs.append(F.expr(f"percentile_disc({q!r}) WITHIN GROUP (ORDER BY {value_col})").alias(f"d{i}"))
    row = df.where(F.col(value_col).isNotNull()).agg(*exprs).collect()[0]
    lin = row["lin"] or []
    return {
        "percentile": {k: v for (k, _), v in zip(percentiles, lin)},
        "percentile_disc": {k: row[f"d{i}"] for i, (k, _) in enumerate(percentiles)},
    }


def compare_builtin(result, builtin, log) -> list[str]:
    problems = []
    overall = result["overall"]
    if overall["count"] == 0:
        return problems
    for key, exact in overall["by_method"]["linear"].items():
        got = builtin["percentile"].get(key)
        if got is None or abs(got - exact) > 1e-9 * max(1.0, abs(exact)):
            problems.append(f"Spark percentile() p{key} = {got}, exact linear = {exact}")
    for key, exact in overall["by_method"]["nearest-rank"].items():
        got = builtin["percentile_disc"].get(key)
        if got is None or got != exact:
            problems.append(f"Spark percentile_disc p{key} = {got}, exact nearest-rank = {exact}")
    return problems


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Distributed `tracetail export` + exact latency percentiles with Spark.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--captures", help="folder (local, shared or Hadoop URI) of capture files to export")
    src.add_argument("--parquet", help="folder of an earlier export (holds http/, dns/, flows/): skip the export")
    p.add_argument("--out", help="export destination (shared storage or Hadoop URI); required with --captures")
    p.add_argument("--recursive", action="store_true", help="also list sub-folders of --captures")
    p.add_argument("--tracetail-bin", default="tracetail", help="tracetail binary built with --features parquet; ship it with spark-submit --files on a cluster")
    p.add_argument("--partitions", type=int, default=0, help="export tasks (default: one per capture)")
    p.add_argument("--task-timeout", type=float, default=3600, help="seconds per capture export")
    p.add_argument("--fetch-cmd", default="hdfs dfs -get {src} {dst}", help="copies a non-file: capture to the task's disk")
    p.add_argument("--put-cmd", default="hdfs dfs -put -f {src} {dst}", help="uploads a table file when --out is not a local path")
    p.add_argument("--metric", default="ttfb_ns", help="ttfb_ns, total_ns, server_ns, tshark_ns (http) or latency_ns (dns); short names ttfb/total/server/tshark/dns")
    p.add_argument("--by", choices=GROUPINGS, help="also compute per group")
    p.add_argument("--method", choices=METHODS, default="linear", help="definition shown in 'percentiles' (both are always in 'by_method')")
    p.add_argument("--percentiles", default=DEFAULT_PERCENTILES, help="comma-separated, in [0, 100]")
    p.add_argument("--json-out", help="write the JSON here instead of stdout")
    p.add_argument("--detail", action="store_true", help="add per-percentile ranks and exact fractions")
    p.add_argument("--cross-check", action="store_true", help="also run Spark's percentile()/percentile_disc and report differences")
    p.add_argument("--master", help="Spark master when not run by spark-submit (e.g. local[2])")
    args = p.parse_args(argv)
    if args.captures and not args.out:
        p.error("--captures needs --out")
    metric = METRIC_ALIASES.get(args.metric, args.metric)
    if metric not in METRICS:
        p.error(f"unknown metric {args.metric}")
    args.metric = metric
    try:
        args.percentile_list = parse_percentiles(args.percentiles)
    except ValueError as e:
        p.error(str(e))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()

    def log(msg):
        print(f"[tracetail_spark {time.time() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("tracetail-latency")
    if args.master:
        builder = builder.master(args.master).config("spark.ui.enabled", "false")
    # The export writes timestamp[ns]; Spark refuses TIMESTAMP(NANOS) unless read as bigint.
    builder = builder.config("spark.sql.legacy.parquet.nanosAsLong", "true")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log(f"Spark {spark.version}, master {spark.sparkContext.master}")

    try:
        if args.captures:
            run_export(spark, args, log)
            parquet_root = args.out
        else:
            parquet_root = args.parquet
        table, column = METRICS[args.metric]
        table_uri = f"{parquet_root.rstrip('/')}/{table}"
        df = spark.read.parquet(table_uri)
        rows = df.count()
        log(f"read {table_uri}: {rows} rows")

        t0 = time.time()
        overall = exact_table(spark, df, column, group_column(table, None), args.percentile_list, args.method, args.detail)
        result = {
            "metric": args.metric,
            "table": table,
            "unit": "ns",
            "method": args.method,
            "percentile_definitions": {
                "linear": "numpy linear: position (n-1)p, interpolated exactly",
                "nearest-rank": "value at rank ceil(p/100*n), min 1",
            },
            "source": table_uri,
            "rows": rows,
            "overall": overall.get("", summarize(0, None, None, 0, 0, {}, [], args.method, False)),
            "group_by": args.by,
            "groups": {},
        }
        if args.by:
            groups = exact_table(spark, df, column, group_column(table, args.by), args.percentile_list, args.method, args.detail)
            result["groups"] = {k: groups[k] for k in sorted(groups)}
        log(f"percentiles in {time.time() - t0:.1f} s ({len(result['groups'])} groups)")

        status = 0
        if args.cross_check:
            builtin = builtin_cross_check(df, column, args.percentile_list, log)
            result["spark_builtin"] = builtin
            problems = compare_builtin(result, builtin, log)
            for prob in problems:
                log(f"cross-check: {prob}")
            log(f"cross-check with Spark built-ins: {'OK' if not problems else f'{len(problems)} differences'}")

        text = json.dumps(result, indent=2)
        if args.json_out:
            with open(args.json_out, "w") as f:
                f.write(text + "\n")
            log(f"wrote {args.json_out}")
        else:
            print(text)
        log("done")
        return status
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
