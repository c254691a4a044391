"""The worked assignment runs end to end, and where tracetail and Scapy answer the same question
(counts, session keys, request times) the script checks they agree (exit status 1 otherwise)."""

import subprocess
import sys

from conftest import REPO, need_module


def test_assignment_script_agrees_with_scapy(tmp_path):
    for module in ("scapy", "matplotlib", "numpy", "pandas"):
        need_module(module)
    script = REPO / "python" / "examples" / "assignment.py"
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "DIFFER" not in run.stdout
    assert run.stdout.count("agree:") == 4, run.stdout
    assert (tmp_path / "ttfb_pareto.png").stat().st_size > 10_000
    assert (tmp_path / "anscombe.png").stat().st_size > 10_000
