"""The benchmark scripts' --quick modes run end to end, so the scripts cannot rot.

They print tables; nothing here asserts a speed (that would be a flaky test, not a benchmark).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_bench_memory_quick_prints_its_table():
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    out = run_quick("bench_memory.py")  # one SqueezeNet run at 256 px: 10-20 s
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| squeezenet |")]
    assert rows and "failed" not in out
    estimate, measured, ratio = (float(cell) for cell in rows[0][3:6])
    assert estimate > 0 and measured > 0 and ratio == pytest.approx(estimate / measured, abs=0.02)


def test_bench_quality_quick_prints_the_race_and_the_sweep(tmp_path):
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    plot = tmp_path / "quality.png"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), "--quick", "--skip", "bf16",
                           "ff-init", "--sweep", "2", "4", "--plot", str(plot)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "time to quality at 128 px" in out and "| tutorial |" in out
    assert "| old defaults (schedule='classic') |" in out and "| schedule='fast' |" in out
    assert "| num_steps | seconds |" in out and "failed" not in out
    assert plot.is_file()
