//! `tracetail export`: Parquet tables `flows`, `http`, `dns`, and on request `tcp` and `tls`
//! (schema in src/export/schema.md), one file per capture in a folder per table, for Spark,
//! DuckDB and pyarrow.

use super::common::Inputs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// Output folder: DIR/flows/<capture>.parquet, DIR/http/..., DIR/dns/...
    #[arg(short, long)]
    output: PathBuf,
    /// Also write this protocol's table (repeatable): `tcp` adds DIR/tcp/, the exchanges of
    /// `tracetail tcp`; `tls` adds DIR/tls/, the connections of `tracetail tls`; `http` and
    /// `dns` are always written.
    #[arg(long, value_enum)]
    protocol: Vec<ExportProtocol>,
}

/// The values of `export --protocol`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ExportProtocol {
    Http,
    Dns,
    Tcp,
    Tls,
}

#[cfg(not(feature = "parquet"))]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = (args.inputs, args.output, args.protocol);
    eprintln!(
        "error: this tracetail was built without Parquet support; rebuild with \
         'cargo build --release --features parquet' (or 'cargo install tracetail --features parquet')"
    );
    Ok(ExitCode::from(2))
}

#[cfg(feature = "parquet")]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use std::collections::HashMap;
    use std::ops::ControlFlow;
    use tracetail::export::{capture_stem, TableWriters};
    use tracetail::pipeline::{PassOptions, Record};

    // Two captures with the same stem would write the same files: refuse before writing.
    let mut stems: HashMap<String, &PathBuf> = HashMap::new();
    for path in &args.inputs.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stdin".into());
        if let Some(other) = stems.insert(capture_stem(&name), path) {
            anyhow::bail!(
                "{} and {} would both be exported as '{}'; rename one of them",
                other.display(),
                path.display(),
                capture_stem(&name)
            );
        }
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.output.display()))?;
    let mut extra = Vec::new();
    let mut analyzer = args.analysis.config()?;
    if args.protocol.contains(&ExportProtocol::Tcp) {
        extra.push(tracetail::export::Table::Tcp);
        analyzer
            .observers
            .push(tracetail::analyzers::tcp::REGISTRATION.name);
    }
    if args.protocol.contains(&ExportProtocol::Tls) {
        extra.push(tracetail::export::Table::Tls);
        analyzer.tls.rows = true;
    }
    let options = PassOptions {
        flows: true,
        transactions: true,
        select: args.inputs.selection(),
        analyzer,
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let mut failed = 0;
    for path in &args.inputs.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stdin".into());
        let mut writers = TableWriters::create_with(&args.output, &name, &extra)?;
        let mut write_error = None;
        let result = super::common::analyze_path(path, &options, &mut |record| {
            let pushed = match &record {
                Record::Flow(f) => writers.push_flow(f),
                Record::Http(t) => writers.push_http(t),
                Record::Dns(t) => writers.push_dns(t),
                Record::Tcp(t) => writers.push_tcp(t),
                Record::Tls(t) => writers.push_tls(t),
                Record::Http2(_) | Record::Row(_) => Ok(()),
            };
            match pushed {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    // Nothing more can be written: stop reading.
                    write_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(e) = write_error {
            return Err(anyhow::anyhow!(
                "{}: writing Parquet failed: {e}",
                path.display()
            ));
        }
        match result {
            Ok(report) => {
                for warning in &report.warnings {
                    eprintln!("warning: {warning} (exported the data before this point)");
                }
                let summary = writers.finish()?;
                let tables: Vec<String> = summary
                    .tables
                    .iter()
                    .chain(summary.tcp.as_ref())
                    .chain(summary.tls.as_ref())
                    .map(|t| {
                        format!(
                            "{} {} rows -> {}",
                            t.table.dir_name(),
                            t.rows,
                            t.path.display()
                        )
                    })
                    .collect();
                eprintln!("{}: {}", path.display(), tables.join(", "));
            }
            Err(e) => {
                // Dropping the writers removes their unfinished files.
                drop(writers);
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
