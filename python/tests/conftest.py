"""Shared fixtures: the repository's CLI (the reference the tables must equal), the sample, the
shared corpus, and optional modules that skip locally but fail under CI=true."""

import importlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "demo.pcap.gz"
IN_CI = os.environ.get("CI") == "true"


def need(what: str, reason: str):
    """Skip visibly when something a test needs is missing; under CI=true that is a failure."""
    message = f"{what} not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI must provide it)")
    pytest.skip(message)


def need_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        need(f"Python module {name}", f"pip install {name}")


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `tracetail` binary built from this repository with Parquet support:
    $TRACETAIL_BIN, else target/debug or target/release (cargo test --all-features builds it)."""
    candidates = [os.environ.get("TRACETAIL_BIN")] + [
        str(REPO / "target" / profile / "tracetail") for profile in ("debug", "release")
    ]
    for c in candidates:
        if c and Path(c).is_file():
            # Built with Parquet support? (Without it, `export` exits with status 2.)
            with tempfile.TemporaryDirectory() as out:
                probe = subprocess.run([c, "export", str(SAMPLE), "-o", out], capture_output=True)
            if probe.returncode == 0:
                return Path(c)
    need("the tracetail CLI", "cargo build --features parquet (or set TRACETAIL_BIN)")


def run_cli(cli: Path, *args: str) -> bytes:
    out = subprocess.run([str(cli), *args], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared capture corpus ($TRACETAIL_CORPUS or ../shared/corpus beside the repo)."""
    d = Path(os.environ.get("TRACETAIL_CORPUS", REPO.parent / "shared" / "corpus"))
    if not (d / "oracle").is_dir():
        need("the shared corpus", f"{d} not found (set TRACETAIL_CORPUS)")
    return d


@pytest.fixture(scope="session")
def synth(cli, tmp_path_factory):
    """A synthetic capture with its ground truth CSVs (`tracetail synth`)."""
    d = tmp_path_factory.mktemp("synth")
    capture = d / "synth.pcap"
    run_cli(cli, "synth", "-o", str(capture), "--requests", "3000", "--seed", "7")
    return capture



def truncated_sample(directory: Path) -> Path:
    """The sample, decompressed and cut in the middle of a packet record."""
    import gzip

    whole = gzip.decompress(SAMPLE.read_bytes())
    cut = directory / "cut.pcap"
    cut.write_bytes(whole[: len(whole) // 2 + 7])
    return cut
