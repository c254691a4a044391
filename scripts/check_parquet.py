#!/usr/bin/env python3
"""Check a `tracetail export` output folder with two independent readers, pyarrow and DuckDB.

    scripts/check_parquet.py DIR [--expect-rows http=N,dns=M,flows=K] [--expect-captures N]

For each table folder DIR/{flows,http,dns}:
  * every *.parquet file has exactly the documented schema (column names, order, types,
    nullability; the schema below mirrors src/export/schema.rs), and no *.inprogress file is left;
  * pyarrow's and DuckDB's row counts agree (and equal --expect-rows when given);
  * DuckDB sees the same column names, and the derived columns are consistent with the
    timestamps they come from (ttfb_ns = response_first_ts - request_first_ts, ...);
  * --expect-captures: number of files and of distinct capture_file values.
Exits 0 when everything matches, 1 on any mismatch (each printed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

S, I32, I64 = pa.string(), pa.int32(), pa.int64()
TS = pa.timestamp("ns", tz="UTC")
FLAGS = pa.list_(pa.field("item", pa.string(), nullable=False))

# (name, type, nullable), in file order. Keep in sync with src/export/schema.rs.
EXPECTED = {
    "flows": [
        ("capture_file", S, False), ("flow_id", I64, False), ("protocol", S, False),
        ("client_ip", S, False), ("client_port", I32, False), ("server_ip", S, False),
        ("server_port", I32, False), ("first_ts", TS, False), ("last_ts", TS, False),
        ("duration_ns", I64, False), ("client_packets", I64, False), ("client_bytes", I64, False),
        ("client_payload_bytes", I64, False), ("server_packets", I64, False),
        ("server_bytes", I64, False), ("server_payload_bytes", I64, False),
        ("tcp_state", S, True), ("syn_to_synack_ns", I64, True), ("synack_to_ack_ns", I64, True),
        ("handshake_ns", I64, True),
    ],
    "http": [
        ("capture_file", S, False), ("connection_id", I64, False), ("depth", I32, False),
        ("client_ip", S, False), ("client_port", I32, False), ("server_ip", S, False),
        ("server_port", I32, False), ("method", S, False), ("host", S, True), ("uri", S, False),
        ("version", S, False), ("status", I32, True), ("request_bytes", I64, False),
        ("response_bytes", I64, False), ("request_body_bytes", I64, False),
        ("response_body_bytes", I64, False), ("request_first_ts", TS, True),
        ("request_last_ts", TS, True), ("response_first_ts", TS, True),
        ("response_last_ts", TS, True), ("ttfb_ns", I64, True), ("total_ns", I64, True),
        ("server_ns", I64, True), ("tshark_ns", I64, True), ("flags", FLAGS, False),
        ("tls", pa.bool_(), False), ("sni", S, True), ("stream_id", I64, True),
        ("grpc_service", S, True), ("grpc_method", S, True), ("grpc_status", I64, True),
        ("grpc_message", S, True), ("grpc_request_messages", I64, True),
        ("grpc_response_messages", I64, True),
    ],
    "dns": [
        ("capture_file", S, False), ("client_ip", S, False), ("client_port", I32, False),
        ("server_ip", S, False), ("server_port", I32, False), ("transport", S, False),
        ("id", I32, False), ("query_name", S, False), ("query_type", I32, False),
        ("rcode", I32, True), ("answers", I32, False), ("query_ts", TS, True),
        ("response_ts", TS, True), ("latency_ns", I64, True), ("flags", FLAGS, False),
    ],
}
SCHEMA_VERSION = b"1"

# Derived columns: each must equal the difference of two timestamps (or be null with either).
DERIVED = {
    "flows": [("duration_ns", "last_ts", "first_ts")],
    "http": [
        ("ttfb_ns", "response_first_ts", "request_first_ts"),
        ("total_ns", "response_last_ts", "request_first_ts"),
        ("server_ns", "response_first_ts", "request_last_ts"),
        ("tshark_ns", "response_last_ts", "request_last_ts"),
    ],
    "dns": [("latency_ns", "response_ts", "query_ts")],
}


def expected_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(n, t, nullable=null) for n, t, null in EXPECTED[table]])


def parse_counts(text: str | None) -> dict[str, int]:
    out = {}
    for item in (text or "").split(","):
        if item.strip():
            table, _, n = item.partition("=")
            if table not in EXPECTED or not n.isdigit():
                raise SystemExit(f"usage: --expect-rows table=N,... (tables: {', '.join(EXPECTED)}), got {item!r}")
            out[table] = int(n)
    return out


def check_table(root: str, table: str, expect_rows: int | None, expect_captures: int | None) -> tuple[list[str], int]:
    problems = []
    folder = os.path.join(root, table)
    files = sorted(glob.glob(os.path.join(folder, "*.parquet")))
    leftovers = glob.glob(os.path.join(folder, ".*.inprogress"))
    if leftovers:
        problems.append(f"{table}: unfinished files left: {leftovers}")
    if not files:
        return [f"{table}: no *.parquet files in {folder}"], 0
    if expect_captures is not None and len(files) != expect_captures:
        problems.append(f"{table}: {len(files)} files, expected {expect_captures}")

    want = expected_schema(table)
    arrow_rows = 0
    for path in files:
        meta = pq.read_metadata(path)
        got = pq.read_schema(path)
        arrow_rows += meta.num_rows
        if not got.equals(want, check_metadata=False):
            problems.append(f"{path}: schema differs:\n  got      {got.to_string(show_schema_metadata=False)}\n  expected {want}")
        version = (got.metadata or {}).get(b"tracetail.schema_version")
        if version != SCHEMA_VERSION:
            problems.append(f"{path}: tracetail.schema_version = {version!r}, expected {SCHEMA_VERSION!r}")
    # A second read through the dataset API: all files together, values decoded.
    table_data = pq.read_table(folder)
    if table_data.num_rows != arrow_rows:
        problems.append(f"{table}: pyarrow dataset {table_data.num_rows} rows, footers say {arrow_rows}")

    con = duckdb.connect()
    pattern = os.path.join(folder, "*.parquet").replace("'", "''")
    src = f"read_parquet('{pattern}')"
    duck_rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    if duck_rows != arrow_rows:
        problems.append(f"{table}: DuckDB counts {duck_rows} rows, pyarrow {arrow_rows}")
    duck_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    if duck_cols != [n for n, _, _ in EXPECTED[table]]:
        problems.append(f"{table}: DuckDB columns {duck_cols}")
    for derived, later, earlier in DERIVED[table]:
        bad = con.execute(
            f"SELECT count(*) FROM {src} WHERE {derived} IS DISTINCT FROM "
            f"(epoch_ns({later}) - epoch_ns({earlier}))"
        ).fetchone()[0]
        if bad:
            problems.append(f"{table}: {bad} rows where {derived} != {later} - {earlier}")
    if expect_captures is not None:
        distinct = con.execute(f"SELECT count(DISTINCT capture_file) FROM {src}").fetchone()[0]
        # A capture can have zero rows in a table, so only more than expected is an error.
        if distinct > expect_captures:
            problems.append(f"{table}: {distinct} distinct capture_file values, expected at most {expect_captures}")
    if expect_rows is not None and arrow_rows != expect_rows:
        problems.append(f"{table}: {arrow_rows} rows, expected {expect_rows}")
    return problems, arrow_rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="export folder holding flows/, http/, dns/")
    p.add_argument("--tables", default="flows,http,dns", help="tables to check")
    p.add_argument("--expect-rows", help="e.g. http=3000,dns=0")
    p.add_argument("--expect-captures", type=int, help="files per table (one per capture)")
    args = p.parse_args(argv)
    expect = parse_counts(args.expect_rows)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in tables if t not in EXPECTED]
    if unknown:
        print(f"unknown tables {unknown}", file=sys.stderr)
        return 2
    problems = []
    for table in tables:
        found, rows = check_table(args.dir, table, expect.get(table), args.expect_captures)
        problems += found
        print(f"{table}: {rows} rows, {'OK' if not found else f'{len(found)} problems'}")
    for prob in problems:
        print(f"MISMATCH {prob}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
