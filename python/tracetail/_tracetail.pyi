"""The compiled half of tracetail (Rust, pyo3). Use the functions of ``tracetail`` instead."""

from typing import Any, Dict, List, Optional, Tuple

import pyarrow

__version__: str

class CaptureError(Exception):
    file: str
    offset: int
    message: str

class CaptureWarning(UserWarning): ...

# (path, bytes or binary file object; name for messages and capture_file; "path"/"bytes"/"stream")
Input = Tuple[Any, str, str]

def table(inputs: List[Input], table: str) -> pyarrow.Table: ...
def read_batches(inputs: List[Input], table: str) -> pyarrow.RecordBatchReader: ...
def summary_json(inputs: List[Input]) -> str: ...
def sessions_scapy(inputs: List[Input]) -> Dict[str, int]: ...
def latency_json(inputs: List[Input], metric: str, by: Optional[str], method: str) -> str: ...
def report(inputs: List[Input], out: str, method: str, top_sessions: int) -> None: ...
