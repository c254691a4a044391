//! `tracetail._tracetail`: the compiled half of the Python package. The Python half
//! (`tracetail/__init__.py`) turns paths, bytes and file objects into [`Input`]s, JSON text into
//! dicts, and carries the docstrings users read.
//!
//! Tables are the export module's record batches, handed to pyarrow through the Arrow C stream
//! interface (arrow-rs's `arrow-pyarrow`): pyarrow takes ownership of the buffers Rust built,
//! nothing is copied. Every pass runs with the GIL released.

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::IntoPyArrow;
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use tracetail::capture::CaptureError as CoreCaptureError;
use tracetail::export::{BatchBuilder, DnsRows, FlowRows, HttpRows, RowBuffer, Table};
use tracetail::flows::ProtocolCounts;
use tracetail::pipeline::{analyze_file, FileReport, PassOptions, Record};
use tracetail::report::json;
use tracetail::report::page::{ReportBuilder, ReportOptions};
use tracetail::samples::{GroupBy, Metric, SampleSet};
use tracetail::stats::PercentileMethod;

create_exception!(
    tracetail,
    CaptureError,
    PyException,
    "A capture could not be read at all (not a capture, unreadable header, I/O error).\n\n\
     Attributes: ``file`` (name as given), ``offset`` (byte offset in the decompressed stream), \
     ``message``."
);
create_exception!(
    tracetail,
    CaptureWarning,
    PyUserWarning,
    "Damage or truncation after the file header: results cover the data before ``offset``."
);

/// One capture to read: its path, the name for messages and the `capture_file` column, and
/// whether the path is a temporary copy (of `bytes` or a file object) to delete afterwards.
#[derive(FromPyObject, Clone)]
struct Input(PathBuf, String, bool);

/// Deletes the temporary copies when the pass that reads them is over.
struct Inputs(Vec<Input>);

impl Drop for Inputs {
    fn drop(&mut self) {
        for Input(path, _, temporary) in &self.0 {
            if *temporary {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Why a pass stopped.
#[derive(Debug)]
enum PassError {
    NotFound(PathBuf),
    Capture(CoreCaptureError),
}

impl From<PassError> for PyErr {
    fn from(err: PassError) -> PyErr {
        match err {
            PassError::NotFound(path) => PyFileNotFoundError::new_err((
                2,
                "No such file or directory",
                path.display().to_string(),
            )),
            PassError::Capture(e) => {
                let py_err = CaptureError::new_err(e.to_string());
                Python::attach(|py| {
                    let value = py_err.value(py);
                    let _ = value.setattr("file", &e.file);
                    let _ = value.setattr("offset", e.offset);
                    let _ = value.setattr("message", &e.message);
                });
                py_err
            }
        }
    }
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::NotFound(path) => write!(f, "{}: no such file", path.display()),
            PassError::Capture(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PassError {}

/// Every file must exist before anything is read, so a typo fails fast and as
/// `FileNotFoundError`.
fn check_exist(inputs: &Inputs) -> Result<(), PassError> {
    for Input(path, _, _) in &inputs.0 {
        if let Err(e) = std::fs::metadata(path) {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Err(PassError::NotFound(path.clone()));
            }
        }
    }
    Ok(())
}

/// Runs one pass per input, in order, handing each record to `emit` with its input. Stops at
/// the first file that cannot be read. Reports name temporary copies by their given name.
fn run_pass(
    inputs: &Inputs,
    options: &PassOptions,
    emit: &mut dyn FnMut(&Input, Record),
) -> Result<Vec<FileReport>, PassError> {
    check_exist(inputs)?;
    let mut reports = Vec::new();
    for input in &inputs.0 {
        let mut report = analyze_file(&input.0, options, &mut |record| emit(input, record))
            .map_err(PassError::Capture)?;
        if input.2 {
            let temp = input.0.display().to_string();
            report.file = input.1.clone();
            for warning in &mut report.warnings {
                *warning = warning.replace(&temp, &input.1);
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Surfaces the reports' warnings through Python's `warnings` (pointing at the caller of the
/// public function: the wrapper in `__init__.py` sits in between).
fn warn(py: Python<'_>, reports: &[FileReport]) -> PyResult<()> {
    let category = py.get_type::<CaptureWarning>();
    for report in reports {
        for warning in &report.warnings {
            let text = format!("{warning} (results cover the data before this point)");
            let message = CString::new(text.replace('\0', " ")).expect("no NUL left");
            PyErr::warn(py, category.as_any(), &message, 2)?;
        }
    }
    Ok(())
}

fn transaction_options() -> PassOptions {
    PassOptions {
        transactions: true,
        ..Default::default()
    }
}

fn flow_options() -> PassOptions {
    PassOptions {
        flows: true,
        ..Default::default()
    }
}

/// Streams the rows of one table kind through its [`BatchBuilder`] (one per capture, so the
/// `capture_file` column names it) into `sink`; `sink` returns false when it wants no more.
fn batches_of<B: RowBuffer>(
    inputs: &Inputs,
    options: &PassOptions,
    pick: fn(&Record) -> Option<&B::Row>,
    sink: &mut dyn FnMut(Result<RecordBatch, ArrowError>) -> bool,
) -> Result<Vec<FileReport>, PassError> {
    type Sink<'a> = dyn FnMut(Result<RecordBatch, ArrowError>) -> bool + 'a;
    /// Hands the capture's last, partial batch to the sink.
    fn flush<B: RowBuffer>(
        builder: &mut Option<(String, BatchBuilder<B>)>,
        sink: &mut Sink<'_>,
    ) -> bool {
        match builder.as_mut().and_then(|(_, b)| b.finish().transpose()) {
            Some(batch) => sink(batch),
            None => true,
        }
    }
    let mut builder: Option<(String, BatchBuilder<B>)> = None;
    let mut open = true;
    let reports = run_pass(inputs, options, &mut |input, record| {
        let Some(row) = pick(&record) else { return };
        if !open {
            return;
        }
        if builder.as_ref().is_none_or(|(name, _)| *name != input.1) {
            open = flush(&mut builder, sink);
            builder = Some((input.1.clone(), BatchBuilder::new(&input.1)));
        }
        let (_, b) = builder.as_mut().expect("set above");
        if let Some(batch) = b.push(row).transpose() {
            open = open && sink(batch);
        }
    })?;
    if open {
        flush(&mut builder, sink);
    }
    Ok(reports)
}

fn table_of(name: &str) -> PyResult<Table> {
    Table::ALL
        .into_iter()
        .find(|t| t.dir_name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown table {name:?}; choose one of 'flows', 'http', 'dns'"
            ))
        })
}

/// All batches of `table` over `inputs`, through `sink`.
fn table_batches(
    table: Table,
    inputs: &Inputs,
    sink: &mut dyn FnMut(Result<RecordBatch, ArrowError>) -> bool,
) -> Result<Vec<FileReport>, PassError> {
    match table {
        Table::Flows => batches_of::<FlowRows>(
            inputs,
            &flow_options(),
            |r| match r {
                Record::Flow(f) => Some(f),
                _ => None,
            },
            sink,
        ),
        Table::Http => batches_of::<HttpRows>(
            inputs,
            &transaction_options(),
            |r| match r {
                Record::Http(t) => Some(t),
                _ => None,
            },
            sink,
        ),
        Table::Dns => batches_of::<DnsRows>(
            inputs,
            &transaction_options(),
            |r| match r {
                Record::Dns(t) => Some(t),
                _ => None,
            },
            sink,
        ),
    }
}

/// `table` ("flows", "http" or "dns") of every input as one `pyarrow.Table`.
#[pyfunction]
fn table(py: Python<'_>, inputs: Vec<Input>, table: &str) -> PyResult<Py<PyAny>> {
    let table = table_of(table)?;
    let inputs = Inputs(inputs);
    let (batches, reports) = py
        .detach(|| {
            let mut batches = Vec::new();
            let mut error = None;
            let reports = table_batches(table, &inputs, &mut |batch| match batch {
                Ok(b) => {
                    batches.push(b);
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            })?;
            match error {
                Some(e) => Ok(Err(e)),
                None => Ok::<_, PassError>(Ok((batches, reports))),
            }
        })?
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    warn(py, &reports)?;
    let schema = table.schema();
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    let reader = reader.into_pyarrow(py)?;
    Ok(reader.call_method0("read_all")?.unbind())
}

/// Batches from the pass running on another thread.
struct ChannelReader {
    schema: SchemaRef,
    batches: Receiver<Result<RecordBatch, ArrowError>>,
}

impl Iterator for ChannelReader {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.batches.recv().ok()
    }
}

impl RecordBatchReader for ChannelReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// `table` of every input as a `pyarrow.RecordBatchReader` that analyses while it is read:
/// at most two batches wait in memory, whatever the capture size.
#[pyfunction]
fn read_batches(py: Python<'_>, inputs: Vec<Input>, table: &str) -> PyResult<Py<PyAny>> {
    let table = table_of(table)?;
    let inputs = Inputs(inputs);
    check_exist(&inputs)?;
    let (to_reader, batches) = sync_channel(1);
    std::thread::Builder::new()
        .name("tracetail-pass".into())
        .spawn(move || {
            let result = table_batches(table, &inputs, &mut |batch| to_reader.send(batch).is_ok());
            if let Err(e) = result {
                let _ = to_reader.send(Err(ArrowError::ExternalError(Box::new(e))));
            }
        })
        .map_err(|e| PyValueError::new_err(format!("cannot start the analysis thread: {e}")))?;
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(ChannelReader {
        schema: table.schema(),
        batches,
    });
    Ok(reader.into_pyarrow(py)?.unbind())
}

/// `tracetail summary --json` of the inputs, as JSON text.
#[pyfunction]
fn summary_json(py: Python<'_>, inputs: Vec<Input>) -> PyResult<String> {
    let inputs = Inputs(inputs);
    let reports = py.detach(|| run_pass(&inputs, &PassOptions::default(), &mut |_, _| {}))?;
    warn(py, &reports)?;
    let mut total = ProtocolCounts::default();
    for report in &reports {
        total.merge(&report.counts);
    }
    Ok(json::summary_json(&reports, &total, 0).to_string())
}

/// `tracetail sessions --scapy --json`: Scapy session key -> packets, over all inputs.
#[pyfunction]
fn sessions_scapy(py: Python<'_>, inputs: Vec<Input>) -> PyResult<BTreeMap<String, u64>> {
    let inputs = Inputs(inputs);
    let options = PassOptions {
        scapy_keys: true,
        ..Default::default()
    };
    let reports = py.detach(|| run_pass(&inputs, &options, &mut |_, _| {}))?;
    warn(py, &reports)?;
    let mut sessions = BTreeMap::new();
    for report in reports {
        for (key, n) in report.scapy_sessions {
            *sessions.entry(key).or_default() += n;
        }
    }
    Ok(sessions)
}

/// Parses a CLI value name (`ttfb`, `server`, `nearest-rank`) into the library's enum.
fn parse_name<T: serde::de::DeserializeOwned>(what: &str, name: &str, names: &str) -> PyResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
        PyValueError::new_err(format!("unknown {what} {name:?}; choose one of {names}"))
    })
}

/// `tracetail latency --json` of the inputs, as JSON text.
#[pyfunction]
#[pyo3(signature = (inputs, metric, by, method))]
fn latency_json(
    py: Python<'_>,
    inputs: Vec<Input>,
    metric: &str,
    by: Option<&str>,
    method: &str,
) -> PyResult<String> {
    let metric: Metric = parse_name(
        "metric",
        metric,
        "ttfb, total, server, tshark, dns, handshake",
    )?;
    let by: Option<GroupBy> = by
        .map(|b| parse_name("grouping", b, "server, host, uri, client, status"))
        .transpose()?;
    let method: PercentileMethod = parse_name("method", method, "nearest-rank, linear")?;
    let inputs = Inputs(inputs);
    let options = PassOptions {
        flows: metric.needs_flows(),
        transactions: !metric.needs_flows(),
        ..Default::default()
    };
    let (set, reports) = py.detach(|| {
        let mut set = SampleSet::new(metric, by);
        let reports = run_pass(&inputs, &options, &mut |_, record| set.add_record(&record))?;
        Ok::<_, PassError>((set, reports))
    })?;
    warn(py, &reports)?;
    let (overall, groups) = set.summaries(method);
    Ok(json::latency_json(&set, method, overall.as_ref(), &groups).to_string())
}

/// `tracetail report`: writes the HTML report of the inputs to `out`.
#[pyfunction]
#[pyo3(signature = (inputs, out, method, top_sessions))]
fn report(
    py: Python<'_>,
    inputs: Vec<Input>,
    out: PathBuf,
    method: &str,
    top_sessions: usize,
) -> PyResult<()> {
    let method: PercentileMethod = parse_name("method", method, "nearest-rank, linear")?;
    let inputs = Inputs(inputs);
    let options = ReportBuilder::pass_options(PassOptions::default());
    let (html, reports) = py.detach(|| {
        let mut builder = ReportBuilder::new(ReportOptions {
            method,
            top_sessions,
            side_by_side: None,
        });
        let reports = run_pass(&inputs, &options, &mut |_, record| builder.add(&record))?;
        Ok::<_, PassError>((builder.build(&reports, 0), reports))
    })?;
    warn(py, &reports)?;
    std::fs::write(&out, html)?;
    Ok(())
}

#[pymodule]
fn _tracetail(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CaptureError", py.get_type::<CaptureError>())?;
    m.add("CaptureWarning", py.get_type::<CaptureWarning>())?;
    m.add_function(wrap_pyfunction!(table, m)?)?;
    m.add_function(wrap_pyfunction!(read_batches, m)?)?;
    m.add_function(wrap_pyfunction!(summary_json, m)?)?;
    m.add_function(wrap_pyfunction!(sessions_scapy, m)?)?;
    m.add_function(wrap_pyfunction!(latency_json, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    Ok(())
}
