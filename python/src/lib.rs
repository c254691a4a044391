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
use pyo3::types::PyBytes;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use tracetail::analyzers::tls::KeyLog;
use tracetail::capture::{CaptureError as CoreCaptureError, CaptureReader};
use tracetail::export::{
    BatchBuilder, DnsRows, FlowRows, HttpRows, RowBuffer, Table, TcpRows, TlsRows,
};
use tracetail::flows::ProtocolCounts;
use tracetail::pipeline::{analyze, FileReport, PassOptions, Record};
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

/// One capture as Python hands it over: the source (a path `str`, `bytes`, or a binary file
/// object), the name for messages and the `capture_file` column, and which of the three it is
/// (`"path"`, `"bytes"`, `"stream"`).
#[derive(FromPyObject)]
struct RawInput(Py<PyAny>, String, String);

/// Where a capture's bytes come from. Bytes and file objects are read in place, taking the
/// GIL for each read: no temporary copy, no second copy in memory.
enum Source {
    Path(PathBuf),
    Bytes(Py<PyBytes>),
    Stream(Py<PyAny>),
}

/// One capture to read, and its name for messages and the `capture_file` column.
struct Input {
    source: Source,
    name: String,
}

/// The captures of one call, read in order.
struct Inputs(Vec<Input>);

impl Inputs {
    fn new(py: Python<'_>, raw: Vec<RawInput>) -> PyResult<Inputs> {
        raw.into_iter()
            .map(|RawInput(object, name, kind)| {
                let object = object.into_bound(py);
                let source = match kind.as_str() {
                    "path" => Source::Path(object.extract()?),
                    "bytes" => Source::Bytes(object.cast_into::<PyBytes>()?.unbind()),
                    "stream" => Source::Stream(object.unbind()),
                    other => {
                        return Err(PyValueError::new_err(format!("unknown source {other:?}")))
                    }
                };
                Ok(Input { source, name })
            })
            .collect::<PyResult<_>>()
            .map(Inputs)
    }
}

/// A `bytes` object read from `position` on, taking the GIL per read.
struct BytesReader {
    bytes: Py<PyBytes>,
    position: usize,
}

impl Read for BytesReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let data = self.bytes.bind(py).as_bytes();
            let rest = data.get(self.position..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.position += n;
            Ok(n)
        })
    }
}

/// A binary Python file object, read through its `read` method, taking the GIL per read.
struct StreamReader(Py<PyAny>);

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let chunk = self
                .0
                .bind(py)
                .call_method1("read", (buf.len(),))
                .map_err(std::io::Error::other)?;
            if chunk.is_none() {
                // A non-blocking stream with nothing yet: treat as the end.
                return Ok(0);
            }
            let chunk = chunk.cast_into::<PyBytes>().map_err(|_| {
                std::io::Error::other("the file object must be opened in binary mode ('rb')")
            })?;
            let data = chunk.as_bytes();
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            Ok(n)
        })
    }
}

impl Input {
    fn open(&self) -> Result<CaptureReader, CoreCaptureError> {
        let stream: Box<dyn Read + Send> = match &self.source {
            Source::Path(path) => return CaptureReader::open(path),
            Source::Bytes(bytes) => Box::new(BytesReader {
                bytes: Python::attach(|py| bytes.clone_ref(py)),
                position: 0,
            }),
            Source::Stream(object) => {
                Box::new(StreamReader(Python::attach(|py| object.clone_ref(py))))
            }
        };
        CaptureReader::from_read(&self.name, stream)
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
    for input in &inputs.0 {
        if let Source::Path(path) = &input.source {
            if let Err(e) = std::fs::metadata(path) {
                if e.kind() == std::io::ErrorKind::NotFound {
                    return Err(PassError::NotFound(path.clone()));
                }
            }
        }
    }
    Ok(())
}

/// Runs one pass per input, in order, handing each record to `sink` with its input, until
/// the inputs end or `sink` breaks. Stops at the first file that cannot be read.
fn run_stoppable(
    inputs: &Inputs,
    options: &PassOptions,
    sink: &mut dyn FnMut(&Input, Record) -> ControlFlow<()>,
) -> Result<Vec<FileReport>, PassError> {
    check_exist(inputs)?;
    let mut reports = Vec::new();
    for input in &inputs.0 {
        let reader = input.open().map_err(PassError::Capture)?;
        let report = analyze(reader, options, None, &mut |record| sink(input, record));
        let stopped = report.stopped;
        reports.push(report);
        if stopped {
            break;
        }
    }
    Ok(reports)
}

/// [`run_stoppable`] to the end of every input.
fn run_pass(
    inputs: &Inputs,
    options: &PassOptions,
    emit: &mut dyn FnMut(&Input, Record),
) -> Result<Vec<FileReport>, PassError> {
    run_stoppable(inputs, options, &mut |input, record| {
        emit(input, record);
        ControlFlow::Continue(())
    })
}

/// Surfaces the reports' warnings through Python's `warnings` (pointing at the caller of the
/// public function: the wrapper in `__init__.py` sits in between).
fn warn(py: Python<'_>, reports: &[FileReport]) -> PyResult<()> {
    warn_at(py, &warnings_of(reports), 2)
}

/// The reports' warnings (each already says what the results cover), as the CLI prints them.
fn warnings_of(reports: &[FileReport]) -> Vec<String> {
    reports.iter().flat_map(|r| r.warnings.clone()).collect()
}

/// Issues `warnings` as `CaptureWarning`s, attributed `stacklevel` frames up.
fn warn_at(py: Python<'_>, warnings: &[String], stacklevel: i32) -> PyResult<()> {
    let category = py.get_type::<CaptureWarning>();
    for text in warnings {
        let message = CString::new(text.replace('\0', " ")).expect("no NUL left");
        PyErr::warn(py, category.as_any(), &message, stacklevel)?;
    }
    Ok(())
}

/// The secrets of `keylog` files (`--keylog`): a missing file is `FileNotFoundError`, a bad
/// line `ValueError` naming the file and line (never the secret).
fn read_keylog(keylog: &[PathBuf]) -> PyResult<Arc<KeyLog>> {
    for path in keylog {
        if !path.exists() {
            return Err(PassError::NotFound(path.clone()).into());
        }
    }
    KeyLog::from_files(keylog)
        .map(Arc::new)
        .map_err(|e| PyValueError::new_err(format!("{e:#}")))
}

/// Transactions, with TLS connections decrypted where `keys` has their secrets.
fn transaction_options(keys: &Arc<KeyLog>) -> PassOptions {
    let mut options = PassOptions {
        transactions: true,
        // Tables read the records and warnings only.
        skip_counts: true,
        ..Default::default()
    };
    options.analyzer.tls.keys = keys.clone();
    options
}

/// Transactions with the generic request/response analyzer running (the `tcp` table).
fn tcp_options(keys: &Arc<KeyLog>) -> PassOptions {
    let mut options = transaction_options(keys);
    options
        .analyzer
        .observers
        .push(tracetail::analyzers::tcp::REGISTRATION.name);
    options
}

/// Transactions with one row per TLS connection (the `tls` table).
fn tls_options(keys: &Arc<KeyLog>) -> PassOptions {
    let mut options = transaction_options(keys);
    options.analyzer.tls.rows = true;
    options
}

fn flow_options() -> PassOptions {
    PassOptions {
        flows: true,
        skip_counts: true,
        ..Default::default()
    }
}

/// Where batches go: `take` returns false when it wants no more; `wanted` says so between
/// batches (checked for every record).
struct BatchSink<'a> {
    take: &'a mut dyn FnMut(Result<RecordBatch, ArrowError>) -> bool,
    wanted: &'a dyn Fn() -> bool,
}

/// Streams the rows of one table kind through its [`BatchBuilder`] (one per capture, so the
/// `capture_file` column names it) into `sink`; `sink` returns false when it wants no more.
fn batches_of<B: RowBuffer>(
    inputs: &Inputs,
    options: &PassOptions,
    pick: fn(&Record) -> Option<&B::Row>,
    sink: &mut BatchSink<'_>,
) -> Result<Vec<FileReport>, PassError> {
    /// Hands the capture's last, partial batch to the sink.
    fn flush<B: RowBuffer>(
        builder: &mut Option<(String, BatchBuilder<B>)>,
        sink: &mut BatchSink<'_>,
    ) -> bool {
        match builder.as_mut().and_then(|(_, b)| b.finish().transpose()) {
            Some(batch) => (sink.take)(batch),
            None => true,
        }
    }
    let mut builder: Option<(String, BatchBuilder<B>)> = None;
    let mut open = true;
    let reports = run_stoppable(inputs, options, &mut |input, record| {
        let Some(row) = pick(&record) else {
            return ControlFlow::Continue(());
        };
        if builder.as_ref().is_none_or(|(name, _)| *name != input.name) {
            open = flush(&mut builder, sink);
            builder = Some((input.name.clone(), BatchBuilder::new(&input.name)));
        }
        let (_, b) = builder.as_mut().expect("set above");
        if let Some(batch) = b.push(row).transpose() {
            open = open && (sink.take)(batch);
        }
        // Nobody wants more rows (the reader was closed): stop reading the capture now,
        // not when the next batch is full.
        open = open && (sink.wanted)();
        if open {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })?;
    if open {
        flush(&mut builder, sink);
    }
    Ok(reports)
}

fn table_of(name: &str) -> PyResult<Table> {
    Table::DOCUMENTED
        .into_iter()
        .find(|t| t.dir_name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown table {name:?}; choose one of 'flows', 'http', 'dns', 'tcp', 'tls'"
            ))
        })
}

/// All batches of `table` over `inputs`, through `sink`; `keys` decrypt TLS.
fn table_batches(
    table: Table,
    inputs: &Inputs,
    keys: &Arc<KeyLog>,
    sink: &mut BatchSink<'_>,
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
            &transaction_options(keys),
            |r| match r {
                Record::Http(t) => Some(t),
                _ => None,
            },
            sink,
        ),
        Table::Dns => batches_of::<DnsRows>(
            inputs,
            &transaction_options(keys),
            |r| match r {
                Record::Dns(t) => Some(t),
                _ => None,
            },
            sink,
        ),
        Table::Tcp => batches_of::<TcpRows>(
            inputs,
            &tcp_options(keys),
            |r| match r {
                Record::Tcp(t) => Some(t),
                _ => None,
            },
            sink,
        ),
        Table::Tls => batches_of::<TlsRows>(
            inputs,
            &tls_options(keys),
            |r| match r {
                Record::Tls(t) => Some(t),
                _ => None,
            },
            sink,
        ),
    }
}

/// `table` ("flows", "http", "dns", "tcp" or "tls") of every input as one `pyarrow.Table`;
/// `keylog` files decrypt TLS.
#[pyfunction]
#[pyo3(signature = (inputs, table, keylog = Vec::new()))]
fn table(
    py: Python<'_>,
    inputs: Vec<RawInput>,
    table: &str,
    keylog: Vec<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let table = table_of(table)?;
    let keys = read_keylog(&keylog)?;
    let inputs = Inputs::new(py, inputs)?;
    let (batches, reports) = py
        .detach(|| {
            let mut batches = Vec::new();
            let mut error = None;
            let mut take = |batch| match batch {
                Ok(b) => {
                    batches.push(b);
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            };
            let mut sink = BatchSink {
                take: &mut take,
                wanted: &|| true,
            };
            let reports = table_batches(table, &inputs, &keys, &mut sink)?;
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

/// What the pass thread hands the reader: batches, then the warnings of the files read.
enum Message {
    Batch(Result<RecordBatch, ArrowError>),
    Warnings(Vec<String>),
}

/// Batches from the pass running on another thread. Dropping it (the Python reader closed or
/// collected) stops the pass at its next record.
struct ChannelReader {
    schema: SchemaRef,
    messages: Receiver<Message>,
    /// Set when the reader is dropped, so the pass stops at its next record.
    closed: Arc<AtomicBool>,
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

impl Iterator for ChannelReader {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.messages.recv().ok()? {
                Message::Batch(batch) => return Some(batch),
                // Warned on the reading thread, at the Python code that reads (pyarrow has
                // released the GIL while it waits here).
                Message::Warnings(warnings) => {
                    if let Err(e) = Python::attach(|py| warn_at(py, &warnings, 1)) {
                        // Warnings turned into errors (`-W error`): end the stream with it.
                        return Some(Err(ArrowError::ExternalError(Box::new(e))));
                    }
                }
            }
        }
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
#[pyo3(signature = (inputs, table, keylog = Vec::new()))]
fn read_batches(
    py: Python<'_>,
    inputs: Vec<RawInput>,
    table: &str,
    keylog: Vec<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let table = table_of(table)?;
    let keys = read_keylog(&keylog)?;
    let inputs = Inputs::new(py, inputs)?;
    check_exist(&inputs)?;
    let (to_reader, messages) = sync_channel(1);
    let closed = Arc::new(AtomicBool::new(false));
    let reader_closed = closed.clone();
    std::thread::Builder::new()
        .name("tracetail-pass".into())
        .spawn(move || {
            let mut take = |batch| to_reader.send(Message::Batch(batch)).is_ok();
            let mut sink = BatchSink {
                take: &mut take,
                wanted: &|| !reader_closed.load(Ordering::Relaxed),
            };
            let result = table_batches(table, &inputs, &keys, &mut sink);
            let _ = to_reader.send(match result {
                Ok(reports) => Message::Warnings(warnings_of(&reports)),
                Err(e) => Message::Batch(Err(ArrowError::ExternalError(Box::new(e)))),
            });
            // The Python objects of the inputs are released with the GIL held.
            Python::attach(|_| drop(inputs));
        })
        .map_err(|e| PyValueError::new_err(format!("cannot start the analysis thread: {e}")))?;
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(ChannelReader {
        schema: table.schema(),
        messages,
        closed,
    });
    Ok(reader.into_pyarrow(py)?.unbind())
}

/// `tracetail summary --json` of the inputs, as JSON text.
#[pyfunction]
fn summary_json(py: Python<'_>, inputs: Vec<RawInput>) -> PyResult<String> {
    let inputs = Inputs::new(py, inputs)?;
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
fn sessions_scapy(py: Python<'_>, inputs: Vec<RawInput>) -> PyResult<BTreeMap<String, u64>> {
    let inputs = Inputs::new(py, inputs)?;
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
#[pyo3(signature = (inputs, metric, by, method, keylog = Vec::new()))]
fn latency_json(
    py: Python<'_>,
    inputs: Vec<RawInput>,
    metric: &str,
    by: Option<&str>,
    method: &str,
    keylog: Vec<PathBuf>,
) -> PyResult<String> {
    // The CLI's `tls-hello` is `TlsHello`, `tlshello` to serde.
    let metric: Metric = parse_name(
        "metric",
        &metric.replace('-', ""),
        "ttfb, total, server, tshark, dns, handshake, tls-hello, tls-handshake",
    )
    .map_err(|_| {
        PyValueError::new_err(format!(
            "unknown metric {metric:?}; choose one of ttfb, total, server, tshark, dns, \
             handshake, tls-hello, tls-handshake"
        ))
    })?;
    let by: Option<GroupBy> = by
        .map(|b| parse_name("grouping", b, "server, host, uri, client, status, sni"))
        .transpose()?;
    let method: PercentileMethod = parse_name("method", method, "nearest-rank, linear")?;
    let keys = read_keylog(&keylog)?;
    let inputs = Inputs::new(py, inputs)?;
    let mut options = PassOptions {
        flows: metric.needs_flows(),
        transactions: !metric.needs_flows(),
        ..Default::default()
    };
    options.analyzer.tls.keys = keys;
    options.analyzer.tls.rows = metric.is_tls();
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
#[pyo3(signature = (inputs, out, method, top_sessions, keylog = Vec::new()))]
fn report(
    py: Python<'_>,
    inputs: Vec<RawInput>,
    out: PathBuf,
    method: &str,
    top_sessions: usize,
    keylog: Vec<PathBuf>,
) -> PyResult<()> {
    let method: PercentileMethod = parse_name("method", method, "nearest-rank, linear")?;
    let keys = read_keylog(&keylog)?;
    let inputs = Inputs::new(py, inputs)?;
    let mut options = PassOptions::default();
    options.analyzer.tls.keys = keys;
    let options = ReportBuilder::pass_options(options);
    let (html, reports) = py.detach(|| {
        let mut builder = ReportBuilder::new(ReportOptions {
            method,
            top_sessions,
            side_by_side: None,
            tcp: false,
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
