"""The tables are what the Parquet schema says, and pandas, Polars and DuckDB take them as is;
the Arrow buffers come from Rust without a copy."""

import pyarrow as pa
import pytest

import tracetail
from conftest import SAMPLE, need_module

TS = pa.timestamp("ns", tz="UTC")


def test_types_are_the_parquet_schema():
    http = tracetail.http(SAMPLE)
    for column in ["request_first_ts", "request_last_ts", "response_first_ts", "response_last_ts"]:
        assert http.schema.field(column).type == TS
    for column in ["ttfb_ns", "total_ns", "server_ns", "tshark_ns", "connection_id", "request_bytes"]:
        assert http.schema.field(column).type == pa.int64()
    assert http.schema.field("status").type == pa.int32()
    assert http.schema.field("flags").type == pa.list_(pa.field("item", pa.string(), nullable=False))
    assert http.schema.metadata == {b"tracetail.schema_version": b"1"}
    flows = tracetail.sessions(SAMPLE)
    assert flows.schema.field("first_ts").type == TS
    assert flows.schema.field("duration_ns").type == pa.int64()
    assert not flows.schema.field("flow_id").nullable
    dns = tracetail.dns(SAMPLE)
    assert dns.schema.field("query_ts").type == TS
    assert dns.schema.field("latency_ns").type == pa.int64()


def test_pandas_polars_duckdb_take_the_tables():
    pd = need_module("pandas")
    pl = need_module("polars")
    duckdb = need_module("duckdb")
    http = tracetail.http(SAMPLE)
    df = http.to_pandas()
    assert str(df["request_first_ts"].dtype) == "datetime64[ns, UTC]"
    assert str(df["ttfb_ns"].dtype) in ("Int64", "float64", "int64")
    assert len(df) == http.num_rows
    frame = pl.from_arrow(http)
    assert frame.schema["request_first_ts"] == pl.Datetime("ns", "UTC")
    assert frame["ttfb_ns"].dtype == pl.Int64
    assert frame.height == http.num_rows
    ((count, p99),) = duckdb.sql(
        "SELECT count(*), quantile_disc(ttfb_ns, 0.99) FROM http WHERE ttfb_ns IS NOT NULL"
    ).fetchall()
    answered = http.column("ttfb_ns").drop_null().to_pylist()
    assert count == len(answered)
    # DuckDB's quantile_disc is nearest-rank: the same answer as tracetail.latency.
    assert p99 == tracetail.latency(SAMPLE)["percentiles"]["99"]
    # A stream straight into DuckDB.
    reader = tracetail.read_batches(SAMPLE, "dns")
    ((streamed,),) = duckdb.sql("SELECT count(*) FROM reader").fetchall()
    assert streamed == tracetail.dns(SAMPLE).num_rows


def test_tables_are_not_copied(synth):
    """pyarrow's allocator never sees the table's buffers: they are the ones Rust built,
    handed over through the Arrow C stream interface. (Any copy on the way, e.g. through
    Python objects or IPC bytes, would allocate from pyarrow's pool.)"""
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    table = tracetail.http(synth)
    assert table.nbytes > 500_000
    assert pool.bytes_allocated() == before
    # The measure itself works: copying the columns does allocate from the pool.
    copy = pa.Table.from_pylist(table.slice(0, 2000).to_pylist(), schema=table.schema)
    assert pool.bytes_allocated() > before
    del copy


def test_gil_is_released_during_a_pass(synth):
    """A pure-Python counter thread keeps running while a capture is analysed: if the GIL
    were held, it would stand still for the whole call."""
    import threading
    import time

    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.2)  # the counter alone (sleep releases the GIL)
        alone = ticks / 0.2
        start, t0 = ticks, time.perf_counter()
        for _ in range(3):
            tracetail.http(synth)
        elapsed = time.perf_counter() - t0
        during = (ticks - start) / elapsed
    finally:
        done.set()
        counter.join()
    # Under load the counter shares the cores with the pass's two threads; held, it gets ~0.
    assert during > 0.2 * alone, (during, alone, elapsed)
