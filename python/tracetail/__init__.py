"""tracetail from Python: packet captures to sessions, HTTP/DNS transactions and tail latencies.

Every function reads one or more captures (pcap or pcapng, optionally gzip- or zstd-compressed)
in one pass, with the GIL released, and returns what the ``tracetail`` command prints with
``--json``, or a ``pyarrow.Table`` with exactly the columns and types of ``tracetail export``'s
Parquet files (schema in the README's Parquet section). Tables cross from Rust without a copy
(Arrow C stream interface), so ``.to_pandas()``, ``polars.from_arrow(t)`` and
``duckdb.sql("FROM t")`` work directly.

A *source* is a path (``str`` or ``os.PathLike``), ``bytes`` holding a capture, a binary file
object, or a list of those (read in order, like several files on the command line).

Errors: a missing file raises ``FileNotFoundError``; a file that is not a capture raises
``tracetail.CaptureError`` (with ``file``, ``offset`` and ``message``); damage later in a file
(e.g. a truncated capture) is a ``tracetail.CaptureWarning`` and the results cover the data
before it.

>>> import tracetail
>>> http = tracetail.http("samples/demo.pcap.gz")
>>> http.to_pandas().groupby("server_ip")["ttfb_ns"].quantile(0.99)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO, List, Optional, Tuple, Union

from . import _tracetail
from ._tracetail import CaptureError, CaptureWarning, __version__

__all__ = [
    "CaptureError",
    "CaptureWarning",
    "__version__",
    "summary",
    "sessions",
    "sessions_scapy",
    "http",
    "dns",
    "tcp",
    "tls",
    "latency",
    "report",
    "read_batches",
]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, List[Any]]
KeyLog = Union[str, "os.PathLike[str]", List[Union[str, "os.PathLike[str]"]], None]

# (path, bytes or binary file object; name for messages and the capture_file column; kind)
_Input = Tuple[Any, str, str]


def _inputs(source: Source) -> List[_Input]:
    """The sources as the compiled half takes them. Bytes and file objects are read in place
    (no temporary copy): a file object is read with its ``read`` method during the call."""
    if isinstance(source, (list, tuple)):
        out: List[_Input] = []
        for s in source:
            out.extend(_inputs(s))
        if not out:
            raise ValueError("no capture given (empty list)")
        return out
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        # The capture_file column holds the file name, as in `tracetail export`.
        return [(path, os.path.basename(path) or path, "path")]
    if isinstance(source, (bytes, bytearray, memoryview)):
        # bytes are immutable, so they are read where they are; the others are copied once.
        data = source if isinstance(source, bytes) else bytes(source)
        return [(data, "bytes", "bytes")]
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        name = os.path.basename(name) if isinstance(name, str) else "stream"
        return [(source, name, "stream")]
    raise TypeError(
        f"expected a path, bytes, a binary file object or a list of them, not {type(source).__name__}"
    )


def summary(source: Source) -> dict:
    """Packet and byte counts, time span, protocols and undecodable packets.

    The same dict as ``tracetail summary --json``: totals at the top level (``packets``,
    ``wire_bytes``, ``first_ns``, ``tcp``, ``protocol_hierarchy``, ...), one entry per capture
    under ``files``.
    """
    return json.loads(_tracetail.summary_json(_inputs(source)))


def _keylog(keylog: KeyLog) -> List[str]:
    """Key log paths as the compiled half takes them (``--keylog``, repeatable)."""
    if keylog is None:
        return []
    if isinstance(keylog, (str, os.PathLike)):
        keylog = [keylog]
    paths = []
    for k in keylog:
        if not isinstance(k, (str, os.PathLike)):
            raise TypeError(f"keylog: expected a path or a list of paths, not {type(k).__name__}")
        paths.append(os.fsdecode(os.fspath(k)))
    return paths


_KEYLOG_DOC = """
    ``keylog``: a TLS key log file (NSS format, as browsers, curl and Python write with
    ``SSLKEYLOGFILE``) or a list of them, like ``--keylog``: connections it has secrets for
    are decrypted and the HTTP inside analysed (rows with ``tls`` true). A missing file raises
    ``FileNotFoundError``, a bad line ``ValueError`` naming the file and line. Keys are never
    written into any result.
"""


def sessions(source: Source) -> "pyarrow.Table":
    """One row per conversation (bidirectional flow): the ``flows`` table of ``tracetail export``.

    Columns: ``capture_file``, ``flow_id``, ``protocol``, client/server ip and port,
    ``first_ts``/``last_ts`` (``timestamp[ns, UTC]``), ``duration_ns``, packet and byte counts
    per direction, ``tcp_state`` and the handshake times (``int64`` ns, null if not TCP).
    Rows come in the order flows end, as in the Parquet file; sort by ``flow_id`` for the
    order of first packet.
    """
    return _tracetail.table(_inputs(source), "flows")


def sessions_scapy(source: Source) -> dict:
    """Scapy's ``PacketList.sessions()`` keys mapped to their packet counts.

    Exactly the keys Scapy 2.8 writes (``"TCP 10.0.0.1:80 > 10.0.0.2:5000"``, ``"Other"``, ...),
    as ``tracetail sessions --scapy --json``; several captures count like one ``PacketList``.
    """
    return _tracetail.sessions_scapy(_inputs(source))


def http(source: Source, keylog: KeyLog = None) -> "pyarrow.Table":
    """One row per HTTP/1.x request/response: the ``http`` table of ``tracetail export``.

    Four capture timestamps per transaction (``request_first_ts``, ``request_last_ts``,
    ``response_first_ts``, ``response_last_ts``, ``timestamp[ns, UTC]``) and the latencies
    derived from them (``ttfb_ns``, ``total_ns``, ``server_ns``, ``tshark_ns``, ``int64`` ns),
    plus method, host, uri, status, sizes and ``flags`` (``gap``, ``unanswered``, ...), then
    ``tls`` and ``sni`` (HTTP decrypted from TLS), ``stream_id`` (HTTP/2; null for HTTP/1.x)
    and the gRPC call (``grpc_service``, ``grpc_method``, ``grpc_status``, ``grpc_message``,
    ``grpc_request_messages``, ``grpc_response_messages``; null when not gRPC).
    """
    return _tracetail.table(_inputs(source), "http", _keylog(keylog))


def dns(source: Source, keylog: KeyLog = None) -> "pyarrow.Table":
    """One row per DNS query (UDP and TCP): the ``dns`` table of ``tracetail export``.

    ``query_ts``/``response_ts`` (``timestamp[ns, UTC]``), ``latency_ns``, the query name and
    type, ``rcode``, answer count and ``flags``.
    """
    return _tracetail.table(_inputs(source), "dns", _keylog(keylog))


def tcp(source: Source, keylog: KeyLog = None) -> "pyarrow.Table":
    """One row per request/response exchange on any TCP connection, whatever the protocol:
    the ``tcp`` table of ``tracetail export --protocol tcp`` (rows of ``tracetail tcp``).

    The same four capture timestamps and latencies as :func:`http`, plus ``exchange`` (position
    on the connection), ``protocol`` (the analyzer that claimed the connection, ``unknown`` if
    none), ``server_rule`` (how the server side was decided) and ``flags``.
    """
    return _tracetail.table(_inputs(source), "tcp", _keylog(keylog))


def tls(source: Source, keylog: KeyLog = None) -> "pyarrow.Table":
    """One row per TLS connection (any port): the ``tls`` table of
    ``tracetail export --protocol tls``, the rows of ``tracetail tls --json`` with the same
    column names.

    Endpoints, ``sni``, ``alpn_offered`` (list) and ``alpn``, ``version``, ``cipher_suite``,
    ``resumed``/``resumption``, ``alerts`` (list), ``decrypted`` and ``undecrypted_reason``,
    ``flags``, and the timing: ``client_hello_ns``, ``server_hello_ns``, ``first_data_ns``,
    ``server_first_data_ns`` (capture times, ``int64`` ns since the epoch), ``hello_ns``
    (ServerHello - ClientHello) and ``handshake_ns`` (to the client's Finished; the rule in
    ``handshake_end``).
    """
    return _tracetail.table(_inputs(source), "tls", _keylog(keylog))


def latency(
    source: Source,
    metric: str = "ttfb",
    by: Optional[str] = None,
    method: str = "nearest-rank",
    keylog: KeyLog = None,
) -> dict:
    """Exact percentiles of a latency metric: the dict ``tracetail latency --json`` prints.

    ``metric``: ``ttfb`` (response first byte - request first byte), ``total``, ``server``,
    ``tshark`` (tshark's ``http.time``), ``dns``, ``handshake``, ``tls-hello`` or
    ``tls-handshake``. ``by``: ``None``, ``server``, ``host``, ``uri``, ``client``, ``status``
    or ``sni``. ``method``: ``nearest-rank`` (numpy ``inverted_cdf``, always an observed value)
    or ``linear`` (numpy's default).

    Keys: ``count``, ``percentiles`` (ns, keys ``"50"`` ... ``"99.99"``), ``min``, ``max``,
    ``mean``, ... overall, the same under ``overall``, ``missing`` (transactions without a
    value), and per group under ``groups`` when ``by`` is given.
    """
    return json.loads(
        _tracetail.latency_json(_inputs(source), metric, by, method, _keylog(keylog))
    )


def report(
    source: Source,
    out: Union[str, "os.PathLike[str]"] = "report.html",
    method: str = "nearest-rank",
    top_sessions: int = 25,
    keylog: KeyLog = None,
) -> str:
    """Writes the self-contained HTML report of ``tracetail report`` to ``out``; returns its path.

    Capture summary, top sessions, HTTP and DNS summaries, percentile tables and every plot
    inline (open it in a browser, or ``IPython.display.HTML(open(path).read())``).
    """
    out = os.fspath(out)
    _tracetail.report(_inputs(source), out, method, top_sessions, _keylog(keylog))
    return out


def read_batches(
    source: Source, table: str = "http", keylog: KeyLog = None
) -> "pyarrow.RecordBatchReader":
    """Streams ``table`` (``"flows"``, ``"http"``, ``"dns"``, ``"tcp"``, the exchanges of
    ``tracetail tcp``, or ``"tls"``, the connections of ``tracetail tls``) as a
    ``pyarrow.RecordBatchReader``.

    The capture is analysed while the reader is consumed (on a background thread, at most two
    batches of 65,536 rows waiting), so captures larger than memory can be filtered or
    aggregated batch by batch, e.g. with ``duckdb.sql("... FROM reader")``. Closing the reader
    (or dropping it) early stops the analysis. Damage later in a file is a
    ``tracetail.CaptureWarning`` issued when the last batch has been read; a file that is not
    a capture ends the stream with an error naming the file and byte offset. A file object is
    read on the background thread (taking the GIL for each read) until the stream ends.
    """
    return _tracetail.read_batches(_inputs(source), table, _keylog(keylog))


# The key log paragraph, once, in the help of every function taking ``keylog``.
for _function in (http, dns, tcp, tls, latency, report, read_batches):
    _function.__doc__ = _function.__doc__.rstrip() + "\n" + _KEYLOG_DOC
del _function
