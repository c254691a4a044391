"""Errors become Python exceptions; damage later in a file becomes a warning (not swallowed)."""

import subprocess

import pytest

import tracetail
from conftest import SAMPLE, run_cli, truncated_sample


def test_missing_file_is_file_not_found(tmp_path):
    missing = tmp_path / "nope.pcap"
    for function in (tracetail.http, tracetail.sessions, tracetail.summary, tracetail.latency):
        with pytest.raises(FileNotFoundError) as err:
            function(missing)
        assert err.value.filename == str(missing)
    with pytest.raises(FileNotFoundError):
        tracetail.read_batches(missing)
    # One missing file in a list fails before anything is read.
    with pytest.raises(FileNotFoundError):
        tracetail.http([SAMPLE, missing])


def test_text_file_is_capture_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    with pytest.raises(tracetail.CaptureError) as err:
        tracetail.http(text)
    assert err.value.file == str(text)
    assert err.value.offset == 0
    assert "not a pcap or pcapng file" in err.value.message
    assert str(text) in str(err.value) and "byte offset 0" in str(err.value)
    with pytest.raises(tracetail.CaptureError):
        tracetail.summary(b"definitely not a capture")
    # A stream of the same: the error comes while reading, naming the file and offset.
    with pytest.raises(Exception, match="byte offset 0"):
        tracetail.read_batches(text).read_all()


def test_truncated_capture_warns_and_keeps_the_data_before(cli, tmp_path):
    cut = truncated_sample(tmp_path)
    with pytest.warns(tracetail.CaptureWarning) as caught:
        table = tracetail.http(cut)
    assert 0 < table.num_rows < tracetail.http(SAMPLE).num_rows
    messages = [str(w.message) for w in caught]
    # The CLI prints the same warning on stderr, with the file and byte offset.
    cli_run = subprocess.run([str(cli), "http", "--json", str(cut)], capture_output=True)
    cli_warnings = [
        line[len("warning: ") :]
        for line in cli_run.stderr.decode().splitlines()
        if line.startswith("warning: ")
    ]
    assert messages == cli_warnings and messages
    assert "byte offset" in messages[0] and str(cut) in messages[0]
    # The warning points at the caller, not at tracetail's own code.
    assert caught[0].filename == __file__
    # Rows before the damage are those the CLI reports.
    assert table.num_rows == len(run_cli(cli, "http", "--json", str(cut)).splitlines())
    with pytest.warns(tracetail.CaptureWarning):
        tracetail.summary(cut)
    with pytest.warns(tracetail.CaptureWarning):
        tracetail.latency(cut)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="unknown metric"):
        tracetail.latency(SAMPLE, metric="p99")
    with pytest.raises(ValueError, match="unknown grouping"):
        tracetail.latency(SAMPLE, by="colour")
    with pytest.raises(ValueError, match="unknown method"):
        tracetail.latency(SAMPLE, method="mean")
    with pytest.raises(ValueError, match="unknown table"):
        tracetail.read_batches(SAMPLE, "nonsense")
    with pytest.raises(TypeError):
        tracetail.http(42)
