"""Type stubs of the tracetail package (the implementation is in __init__.py and _tracetail)."""

import os
from typing import Any, BinaryIO, Dict, List, Literal, Optional, Union

import pyarrow

__version__: str

class CaptureError(Exception):
    """A capture could not be read at all (not a capture, unreadable header, I/O error)."""

    file: str
    offset: int
    message: str

class CaptureWarning(UserWarning):
    """Damage or truncation after the file header; results cover the data before it."""

Source = Union[
    str,
    os.PathLike[str],
    bytes,
    bytearray,
    memoryview,
    BinaryIO,
    List[Union[str, os.PathLike[str], bytes, bytearray, memoryview, BinaryIO]],
]
KeyLog = Union[str, os.PathLike[str], List[Union[str, os.PathLike[str]]], None]
Metric = Literal[
    "ttfb", "total", "server", "tshark", "dns", "handshake", "tls-hello", "tls-handshake"
]
GroupBy = Literal["server", "host", "uri", "client", "status", "sni"]
Method = Literal["nearest-rank", "linear"]
TableName = Literal["flows", "http", "dns", "tcp", "tls"]

def summary(source: Source) -> Dict[str, Any]:
    """``tracetail summary --json``: counts, time span, protocols, per-file details."""

def sessions(source: Source) -> pyarrow.Table:
    """Conversations: the ``flows`` table of ``tracetail export``."""

def sessions_scapy(source: Source) -> Dict[str, int]:
    """Scapy's ``PacketList.sessions()`` keys -> packet counts."""

def http(source: Source, keylog: KeyLog = None) -> pyarrow.Table:
    """HTTP transactions (decrypted from TLS with ``keylog``): the ``http`` table of ``tracetail export``."""

def dns(source: Source, keylog: KeyLog = None) -> pyarrow.Table:
    """DNS queries: the ``dns`` table of ``tracetail export``."""

def tcp(source: Source, keylog: KeyLog = None) -> pyarrow.Table:
    """Request/response exchanges on any TCP connection: the ``tcp`` table of ``tracetail export --protocol tcp``."""

def tls(source: Source, keylog: KeyLog = None) -> pyarrow.Table:
    """TLS connections: the ``tls`` table of ``tracetail export --protocol tls`` (``tracetail tls --json``)."""

def latency(
    source: Source,
    metric: Metric = "ttfb",
    by: Optional[GroupBy] = None,
    method: Method = "nearest-rank",
    keylog: KeyLog = None,
) -> Dict[str, Any]:
    """``tracetail latency --json``: exact percentiles overall and per group."""

def report(
    source: Source,
    out: Union[str, os.PathLike[str]] = "report.html",
    method: Method = "nearest-rank",
    top_sessions: int = 25,
    keylog: KeyLog = None,
) -> str:
    """Writes the HTML report of ``tracetail report``; returns its path."""

def read_batches(
    source: Source, table: TableName = "http", keylog: KeyLog = None
) -> pyarrow.RecordBatchReader:
    """Streams a table while the capture is analysed (bounded memory)."""
