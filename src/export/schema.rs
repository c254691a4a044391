//! The table schemas, generated from the column definitions in [`crate::columns`] (the same
//! ones the JSON and CSV writers use): the Arrow schemas the writers use and the markdown
//! table in the documentation, so the documented schema cannot drift from the written one (a
//! test renders the markdown and compares it with `schema.md` and `spark/README.md`).

use crate::columns::{self, RowColumns};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// Bumped whenever a column is renamed, retyped or removed (adding a column at the end keeps it).
/// Stored in the Arrow schema metadata under [`SCHEMA_VERSION_KEY`].
pub const SCHEMA_VERSION: &str = "1";
pub const SCHEMA_VERSION_KEY: &str = "tracetail.schema_version";

pub use crate::columns::ColumnType;

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::TimestampNsUtc => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
            }
            ColumnType::Utf8List => DataType::List(Arc::new(list_item_field())),
            ColumnType::Boolean => DataType::Boolean,
        }
    }
}

/// The element field of `flags` lists (named `item` like Arrow's default; never null).
pub fn list_item_field() -> Field {
    Field::new("item", DataType::Utf8, false)
}

/// One column of a table as the schema and its documentation see it.
#[derive(Debug, Clone, Copy)]
pub struct ColumnInfo {
    /// The name in the table.
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    pub doc: &'static str,
}

fn infos<R>(row: &RowColumns<R>) -> Vec<ColumnInfo> {
    row.table()
        .map(|c| ColumnInfo {
            name: c.table_name,
            ty: c.ty,
            nullable: c.nullable,
            doc: c.doc,
        })
        .collect()
}

/// The tables, in the order they are documented and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Flows,
    Http,
    Dns,
    /// Written only when asked for (`export --protocol tcp`).
    Tcp,
    /// Written only when asked for (`export --protocol tls`).
    Tls,
}

impl Table {
    /// The tables `export` always writes.
    pub const ALL: [Table; 3] = [Table::Flows, Table::Http, Table::Dns];
    /// Every table, as documented: [`ALL`](Self::ALL) and those written on request.
    pub const DOCUMENTED: [Table; 5] = [
        Table::Flows,
        Table::Http,
        Table::Dns,
        Table::Tcp,
        Table::Tls,
    ];

    /// Folder name under the export directory (also the table name in SQL examples).
    pub fn dir_name(self) -> &'static str {
        match self {
            Table::Flows => "flows",
            Table::Http => "http",
            Table::Dns => "dns",
            Table::Tcp => "tcp",
            Table::Tls => "tls",
        }
    }

    /// The table's columns, in order (from the row type's column definitions).
    pub fn columns(self) -> Vec<ColumnInfo> {
        match self {
            Table::Flows => infos(&columns::flows::FLOWS),
            Table::Http => infos(&columns::http::HTTP),
            Table::Dns => infos(&columns::dns::DNS),
            Table::Tcp => infos(&columns::tcp::TCP),
            Table::Tls => infos(&columns::tls::TLS),
        }
    }

    /// The Arrow schema written to `<dir>/<table>/<stem>.parquet`.
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, c.ty.data_type(), c.nullable))
            .collect();
        let metadata =
            HashMap::from([(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
        Arc::new(Schema::new_with_metadata(fields, metadata))
    }
}

/// The schema documentation as markdown: one `####` section and table per table.
/// `src/export/schema.md` and the schema section of `spark/README.md` hold exactly this text.
pub fn schema_markdown() -> String {
    let mut out = String::new();
    for table in Table::DOCUMENTED {
        out.push_str(&format!(
            "#### `{0}/<capture stem>.parquet`\n\n| column | type | nullable | meaning |\n|---|---|---|---|\n",
            table.dir_name()
        ));
        for c in &table.columns() {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                c.name,
                c.ty.doc_name(),
                if c.nullable { "yes" } else { "no" },
                c.doc
            ));
        }
        out.push('\n');
    }
    out
}
