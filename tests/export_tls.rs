//! `export --protocol tls`: the Parquet `tls` table holds exactly the rows and values of
//! `tracetail tls --json` (same column names; `gap` is text-only) on the corpus TLS captures,
//! and a plain `export` writes no `tls` folder.
#![cfg(feature = "parquet")]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::path::Path;

/// Row `i` of a column as the JSON value `--json` writes for it.
fn json_of(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).into(),
        DataType::Boolean => array.as_boolean().value(i).into(),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            let items = items.as_string::<i32>();
            (0..items.len())
                .map(|j| Value::from(items.value(j)))
                .collect()
        }
        other => panic!("the tls table has no {other} column"),
    }
}

fn read(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn tls_table_equals_tls_json_on_the_corpus() {
    let test = "tls_table_equals_tls_json_on_the_corpus";
    let Some(corpus) = common::corpus_dir(test) else {
        return;
    };
    let mut compared = 0;
    for name in [
        "zeek__tls13_wolfssl.pcap",
        "sv__tls-subjectaltname__input.pcap",
        "scapy__tls_nss_example.pcap",
    ] {
        let pcap = corpus.join(name);
        let out = common::tracetail()
            .args(["tls", "--json"])
            .arg(&pcap)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let rows: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!rows.is_empty(), "{name}: TLS connections expected");

        let dir = common::scratch("export_tls", name);
        let _ = std::fs::remove_dir_all(&dir);
        let plain = common::tracetail()
            .arg("export")
            .arg(&pcap)
            .arg("-o")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(plain.status.success(), "{plain:?}");
        assert!(!dir.join("tls").exists(), "tls only on request");
        let export = common::tracetail()
            .arg("export")
            .arg(&pcap)
            .args(["--protocol", "tls", "-o"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(export.status.success(), "{export:?}");
        let stem = name.trim_end_matches(".pcap");
        let batches = read(&dir.join("tls").join(format!("{stem}.parquet")));
        let mut i_row = 0;
        for batch in &batches {
            let schema = batch.schema();
            // The --json keys, in order, with the table's names for the capture and no `gap`.
            let keys: Vec<&str> = rows[0]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "gap")
                .collect();
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            assert_eq!(names[0], "capture_file");
            assert_eq!(names[1..], keys[1..], "{name}: columns");
            for i in 0..batch.num_rows() {
                let row = &rows[i_row];
                for (k, field) in schema.fields().iter().enumerate().skip(1) {
                    assert_eq!(
                        json_of(batch.column(k).as_ref(), i),
                        row[field.name()],
                        "{name} row {i_row} column {}",
                        field.name()
                    );
                }
                assert_eq!(json_of(batch.column(0).as_ref(), i), Value::from(name));
                i_row += 1;
                compared += 1;
            }
        }
        assert_eq!(i_row, rows.len(), "{name}: row count");
    }
    eprintln!("{test}: {compared} tls rows equal between Parquet and --json");
}
