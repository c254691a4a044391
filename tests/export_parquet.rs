//! Round trip of the Parquet export: rows built by hand, written with `TableWriters`, read back
//! with the parquet crate's Arrow reader; schema and every value checked.
#![cfg(feature = "parquet")]

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tracetail::analyzers::{DnsTransaction, HttpTransaction};
use tracetail::export::{
    capture_stem, table_path, Table, TableWriters, BATCH_ROWS, ROW_GROUP_ROWS, SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
};
use tracetail::flows::FlowRecord;

/// A fresh, empty directory under the target dir (no tempfile dependency).
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export_parquet_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads a whole file; returns its batches, the number of row groups and the file's schema.
fn read_all(path: &Path) -> (Vec<RecordBatch>, usize, arrow_schema::SchemaRef) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let row_groups = builder.metadata().num_row_groups();
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, row_groups, schema)
}

/// The small files of these tests come back as (at most) one batch, simplest to index.
fn one_batch(path: &Path) -> RecordBatch {
    let (batches, _, schema) = read_all(path);
    assert!(
        batches.len() <= 1,
        "expected one batch, got {}",
        batches.len()
    );
    batches
        .first()
        .cloned()
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone()))
}

fn i64_col(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>();
    col.iter().collect()
}

fn i32_col(batch: &RecordBatch, name: &str) -> Vec<Option<i32>> {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int32Type>();
    col.iter().collect()
}

fn ts_col(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<TimestampNanosecondType>();
    col.iter().collect()
}

fn str_col(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).unwrap().as_string::<i32>();
    col.iter().map(|v| v.map(str::to_string)).collect()
}

fn list_col(batch: &RecordBatch, name: &str) -> Vec<Vec<String>> {
    let col = batch.column_by_name(name).unwrap().as_list::<i32>();
    assert_eq!(col.null_count(), 0);
    col.iter()
        .map(|item| {
            let item = item.unwrap();
            item.as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect()
        })
        .collect()
}

const T0: i64 = 1_700_000_000_123_456_789;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn flow(id: u64) -> FlowRecord {
    FlowRecord {
        flow_id: id,
        protocol: "tcp".into(),
        client_ip: ip("10.0.0.1"),
        client_port: 50_000 + id as u16,
        server_ip: ip("2001:db8::80"),
        server_port: 65_535,
        first_ns: T0 + id as i64,
        last_ns: T0 + 1_000_000 + id as i64,
        client_packets: 5,
        client_bytes: 400,
        client_payload_bytes: 100,
        server_packets: 6,
        server_bytes: u64::MAX, // clamps to i64::MAX rather than wrapping negative
        server_payload_bytes: 2_000,
        tcp_state: if id == 0 { Some("SF".into()) } else { None },
        syn_to_synack_ns: Some(1_500),
        synack_to_ack_ns: if id == 0 { Some(250) } else { None },
    }
}

fn http(depth: u32, answered: bool) -> HttpTransaction {
    HttpTransaction {
        connection_id: 7,
        depth,
        client_ip: ip("192.168.1.2"),
        client_port: 40_000,
        server_ip: ip("192.168.1.1"),
        server_port: 8080,
        method: "GET".into(),
        host: if answered {
            Some("example.test".into())
        } else {
            None
        },
        uri: format!("/item/{depth}").into(),
        version: "HTTP/1.1".into(),
        status: answered.then_some(200),
        request_bytes: 120,
        response_bytes: if answered { 5_000 } else { 0 },
        request_body_bytes: 0,
        response_body_bytes: if answered { 4_800 } else { 0 },
        request_first_ns: Some(T0 + 10),
        request_last_ns: Some(T0 + 30),
        response_first_ns: answered.then_some(T0 + 2_000_010),
        response_last_ns: answered.then_some(T0 + 5_000_000),
        request_head_ns: None,
        response_head_ns: None,
        flags: if answered {
            vec![]
        } else {
            vec!["unanswered", "gap"]
        },
        tls: false,
        sni: None,
        stream_id: None,
        grpc: None,
    }
}

fn dns(id: u16) -> DnsTransaction {
    DnsTransaction {
        client_ip: ip("::1"),
        client_port: 53_000,
        server_ip: ip("::1"),
        server_port: 53,
        transport: "udp",
        id,
        query_name: "www.example.test".to_string(),
        query_type: 28,
        rcode: (id != 0xffff).then_some(3),
        answers: 0,
        query_ns: Some(T0),
        response_ns: (id != 0xffff).then_some(T0 + 12_345),
        flags: if id == 0xffff {
            vec!["unanswered"]
        } else {
            vec![]
        },
    }
}

#[test]
fn round_trip_all_three_tables() {
    let dir = scratch_dir("round_trip");
    let mut writers = TableWriters::create(&dir, "web.pcap.gz").unwrap();
    for id in 0..2 {
        writers.push_flow(&flow(id)).unwrap();
    }
    writers.push_http(&http(1, true)).unwrap();
    writers.push_http(&http(2, false)).unwrap();
    writers.push_dns(&dns(0xabcd)).unwrap();
    writers.push_dns(&dns(0xffff)).unwrap();
    let summary = writers.finish().unwrap();

    assert_eq!(summary.capture_file, "web.pcap.gz");
    let rows: Vec<u64> = summary.tables.iter().map(|t| t.rows).collect();
    assert_eq!(rows, [2, 2, 2]);
    for (summary, table) in summary.tables.iter().zip(Table::ALL) {
        assert_eq!(summary.table, table);
        assert_eq!(summary.path, dir.join(table.dir_name()).join("web.parquet"));
        // Nothing but the finished file in the table folder (the .inprogress file was renamed).
        let names: Vec<_> = std::fs::read_dir(dir.join(table.dir_name()))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["web.parquet"]);
    }

    // Schema: exactly the documented fields (names, types, nullability) and the version tag.
    for table in Table::ALL {
        let (_, _, schema) = read_all(&table_path(&dir, table, "web"));
        assert_eq!(schema.fields(), table.schema().fields(), "{table:?}");
        assert_eq!(
            schema
                .metadata()
                .get(SCHEMA_VERSION_KEY)
                .map(String::as_str),
            Some(SCHEMA_VERSION)
        );
    }

    let flows = one_batch(&table_path(&dir, Table::Flows, "web"));
    assert_eq!(flows.num_rows(), 2);
    assert_eq!(
        str_col(&flows, "capture_file"),
        [Some("web.pcap.gz".into()), Some("web.pcap.gz".into())]
    );
    assert_eq!(i64_col(&flows, "flow_id"), [Some(0), Some(1)]);
    assert_eq!(
        str_col(&flows, "server_ip"),
        [Some("2001:db8::80".into()), Some("2001:db8::80".into())]
    );
    assert_eq!(i32_col(&flows, "client_port"), [Some(50_000), Some(50_001)]);
    assert_eq!(i32_col(&flows, "server_port"), [Some(65_535), Some(65_535)]);
    assert_eq!(ts_col(&flows, "first_ts"), [Some(T0), Some(T0 + 1)]);
    assert_eq!(
        ts_col(&flows, "last_ts"),
        [Some(T0 + 1_000_000), Some(T0 + 1_000_001)]
    );
    assert_eq!(
        i64_col(&flows, "duration_ns"),
        [Some(1_000_000), Some(1_000_000)]
    );
    assert_eq!(
        i64_col(&flows, "server_bytes"),
        [Some(i64::MAX), Some(i64::MAX)]
    );
    assert_eq!(str_col(&flows, "tcp_state"), [Some("SF".into()), None]);
    assert_eq!(i64_col(&flows, "synack_to_ack_ns"), [Some(250), None]);
    assert_eq!(i64_col(&flows, "handshake_ns"), [Some(1_750), None]);

    let http_rows = one_batch(&table_path(&dir, Table::Http, "web"));
    assert_eq!(http_rows.num_rows(), 2);
    assert_eq!(i32_col(&http_rows, "depth"), [Some(1), Some(2)]);
    assert_eq!(i32_col(&http_rows, "status"), [Some(200), None]);
    assert_eq!(
        str_col(&http_rows, "host"),
        [Some("example.test".into()), None]
    );
    assert_eq!(
        str_col(&http_rows, "uri"),
        [Some("/item/1".into()), Some("/item/2".into())]
    );
    assert_eq!(
        ts_col(&http_rows, "response_first_ts"),
        [Some(T0 + 2_000_010), None]
    );
    // The latencies are the HttpTransaction methods, written as plain int64 nanoseconds.
    let expected = http(1, true);
    assert_eq!(
        i64_col(&http_rows, "ttfb_ns"),
        [expected.ttfb_ns(), None],
        "ttfb"
    );
    assert_eq!(i64_col(&http_rows, "ttfb_ns")[0], Some(2_000_000));
    assert_eq!(i64_col(&http_rows, "total_ns")[0], Some(4_999_990));
    assert_eq!(i64_col(&http_rows, "server_ns")[0], Some(1_999_980));
    assert_eq!(i64_col(&http_rows, "tshark_ns")[0], Some(4_999_970));
    assert_eq!(i64_col(&http_rows, "tshark_ns")[1], None);
    assert_eq!(
        list_col(&http_rows, "flags"),
        [vec![], vec!["unanswered".to_string(), "gap".to_string()]]
    );

    let dns_rows = one_batch(&table_path(&dir, Table::Dns, "web"));
    assert_eq!(i32_col(&dns_rows, "id"), [Some(0xabcd), Some(0xffff)]);
    assert_eq!(i32_col(&dns_rows, "query_type"), [Some(28), Some(28)]);
    assert_eq!(i32_col(&dns_rows, "rcode"), [Some(3), None]);
    assert_eq!(i64_col(&dns_rows, "latency_ns"), [Some(12_345), None]);
    assert_eq!(
        str_col(&dns_rows, "transport"),
        [Some("udp".into()), Some("udp".into())]
    );
    assert_eq!(
        str_col(&dns_rows, "client_ip"),
        [Some("::1".into()), Some("::1".into())]
    );
    assert_eq!(
        list_col(&dns_rows, "flags"),
        [vec![], vec!["unanswered".to_string()]]
    );
}

/// More rows than one batch and one row group: every row arrives, in order, in several row
/// groups, so the writer really streams instead of holding the capture.
#[test]
fn many_rows_stream_in_batches_and_row_groups() {
    let dir = scratch_dir("many_rows");
    let rows = ROW_GROUP_ROWS + BATCH_ROWS / 2 + 3;
    let mut writers = TableWriters::create(&dir, "big.pcapng").unwrap();
    let mut transaction = http(1, true);
    for i in 0..rows {
        transaction.depth = i as u32;
        transaction.response_first_ns = Some(T0 + 10 + i as i64);
        writers.push_http(&transaction).unwrap();
    }
    let summary = writers.finish().unwrap();
    assert_eq!(summary.tables[1].rows, rows as u64);
    assert_eq!(summary.tables[0].rows, 0);

    let (batches, row_groups, _) = read_all(&table_path(&dir, Table::Http, "big"));
    assert_eq!(row_groups, 2);
    let mut next = 0i64;
    for batch in &batches {
        for (depth, ttfb) in i32_col(batch, "depth")
            .into_iter()
            .zip(i64_col(batch, "ttfb_ns"))
        {
            assert_eq!(depth, Some(next as i32));
            assert_eq!(ttfb, Some(next));
            next += 1;
        }
    }
    assert_eq!(next as usize, rows);

    // The tables that got no rows are still valid files with the full schema.
    let (empty, _, schema) = read_all(&table_path(&dir, Table::Dns, "big"));
    assert_eq!(empty.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    assert_eq!(schema.fields(), Table::Dns.schema().fields());
}

#[test]
fn dropped_writers_leave_no_files_behind() {
    let dir = scratch_dir("dropped");
    let mut writers = TableWriters::create(&dir, "partial.pcap").unwrap();
    writers.push_http(&http(1, true)).unwrap();
    drop(writers);
    for table in Table::ALL {
        let left: Vec<_> = std::fs::read_dir(dir.join(table.dir_name()))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{table:?}: {left:?}");
    }
}

#[test]
fn file_names_follow_the_capture_stem() {
    let dir = scratch_dir("stems");
    let writers = TableWriters::create(&dir, "/data/day 1/_lab.pcap.zst").unwrap();
    let summary = writers.finish().unwrap();
    assert_eq!(capture_stem("/data/day 1/_lab.pcap.zst"), "c_lab");
    assert_eq!(
        summary.tables[2].path,
        dir.join("dns").join("c_lab.parquet")
    );
    assert!(summary.tables[2].path.exists());
}
