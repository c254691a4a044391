"""Bytes and file objects are read in place (no temporary file), `read_batches` stops the
analysis when its reader is dropped early, and surfaces damage as `CaptureWarning` too."""

import gc
import gzip
import struct
import tempfile
import threading
import time
from pathlib import Path

import pytest

import tracetail
from conftest import SAMPLE, run_cli, truncated_sample


class CountingStream:
    """A binary stream with only ``read`` (no seek, no fileno): a pcap header, then the
    records of ``body`` over and over, each copy ``shift`` seconds later. Counts the bytes
    served, so a test can see whether anyone still reads."""

    def __init__(self, header: bytes, records, shift: int, copies: int):
        self.pending = header
        self.records = records
        self.shift = shift
        self.copies = copies
        self.copy = 0
        self.served = 0
        self.lock = threading.Lock()

    def _next_copy(self) -> bytes:
        if self.copy >= self.copies:
            return b""
        offset = self.copy * self.shift
        self.copy += 1
        return b"".join(
            struct.pack("<IIII", sec + offset, usec, incl, orig) + data
            for sec, usec, incl, orig, data in self.records
        )

    def read(self, n: int = -1) -> bytes:
        with self.lock:
            while len(self.pending) < max(n, 1):
                more = self._next_copy()
                if not more:
                    break
                self.pending += more
            n = len(self.pending) if n < 0 else n
            chunk, self.pending = self.pending[:n], self.pending[n:]
            self.served += len(chunk)
            return chunk


def pcap_records(data: bytes):
    """(header, [(sec, fraction, incl, orig, data)], span in whole seconds) of a little-endian
    pcap (µs or ns)."""
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), "a little-endian pcap"
    header, at, records = data[:24], 24, []
    while at < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, at)
        records.append((sec, usec, incl, orig, data[at + 16 : at + 16 + incl]))
        at += 16 + incl
    return header, records, records[-1][0] - records[0][0] + 2


def test_file_objects_without_seek_and_bytes_need_no_temporary_file(tmp_path, monkeypatch):
    # Any temporary file would land here.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    expected = tracetail.http(SAMPLE)
    with gzip.open(SAMPLE, "rb") as stream:  # decompressed on the fly: no seek, no fileno
        from_stream = tracetail.http(stream)
    names = expected.column_names[1:]
    assert from_stream.select(names).equals(expected.select(names))
    assert set(from_stream.column("capture_file").to_pylist()) == {SAMPLE.name}
    assert tracetail.summary(SAMPLE.read_bytes())["packets"] == tracetail.summary(SAMPLE)["packets"]
    with gzip.open(SAMPLE, "rb") as stream:
        streamed = tracetail.read_batches(stream, "dns").read_all()
    assert streamed.equals(tracetail.dns(SAMPLE))
    assert list(tmp_path.iterdir()) == []


def test_a_text_mode_file_object_is_refused_clearly(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with open(text) as f, pytest.raises(tracetail.CaptureError, match="binary mode"):
        tracetail.http(f)


def test_dropping_the_reader_stops_the_analysis(cli, tmp_path):
    capture = tmp_path / "base.pcap"
    run_cli(cli, "synth", "-o", str(capture), "--requests", "2000", "--seed", "11")
    header, records, span = pcap_records(capture.read_bytes())
    per_copy = sum(16 + len(r[4]) for r in records)
    copies = 5_000  # about 10 million transactions: far more than anyone waits for
    stream = CountingStream(header, records, span, copies)
    reader = tracetail.read_batches(stream, "http")
    first = reader.read_next_batch()
    assert first.num_rows > 0
    del reader, first
    gc.collect()
    started = time.monotonic()
    # The pass stops at its next record: the stream is soon read no further.
    settled = None
    while time.monotonic() - started < 10:
        before = stream.served
        time.sleep(0.5)
        if stream.served == before:
            settled = time.monotonic() - started
            break
    assert settled is not None, "the capture is still being read after the reader was dropped"
    assert settled < 3
    assert stream.served < per_copy * copies / 20, (stream.served, per_copy * copies)


def test_read_batches_warns_about_damage_like_the_table_functions(cli, tmp_path):
    cut = truncated_sample(tmp_path)
    with pytest.warns(tracetail.CaptureWarning) as from_table:
        table = tracetail.http(cut)
    reader = tracetail.read_batches(cut, "http")
    with pytest.warns(tracetail.CaptureWarning) as from_reader:
        streamed = reader.read_all()
    assert streamed.equals(table)
    assert [str(w.message) for w in from_reader] == [str(w.message) for w in from_table]
    assert "byte offset" in str(from_reader[0].message)
    # Attributed to the code that reads the stream.
    assert from_reader[0].filename == __file__
    # An undamaged capture gives no warning.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracetail.read_batches(SAMPLE, "dns").read_all()
