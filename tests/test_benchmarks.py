"""The benchmark scripts' --quick modes run end to end, so the scripts cannot rot.

They print tables; nothing here asserts a speed (that would be a flaky test, not a benchmark).
"""

import os
import subprocess
import sys
from pathlib import Path

from conftest import need_asset

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NST_VGG_WEIGHTS": os.environ.get("NST_VGG_WEIGHTS") or "random"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_bench_step_quick_prints_its_tables():
    need_asset("tubingen_neckarfront")
    out = run_quick("bench_step.py")
    assert "| tutorial-compiled |" in out and "| course-bf16 |" in out
    assert "speed-up against the tutorial" in out and "time to quality" in out
    assert "failed" not in out


def test_bench_fast_quick_prints_its_tables():
    need_asset("magenta_style_transfer_f16")
    out = run_quick("bench_fast.py")
    assert "|" in out and "ms" in out
