"""The benchmark scripts' --quick modes run end to end, so the scripts cannot rot.

They print tables; nothing here asserts a speed (that would be a flaky test, not a benchmark).
The TensorFlow scripts share one process (tests/run_scripts.py): an `import tensorflow` costs
~4.5 s of CPU, and a process of their own keeps their global TensorFlow state out of this one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_asset

ROOT = Path(__file__).resolve().parents[1]

# test -> the script and its arguments it checks, in the order the one process runs them.
# bench_memory first: its --quick run measures memory in that process, before anything else ran there.
# bench_fast before bench_step: bench_fast peaks highest (~1.9 GB), on top of less memory retained
# by the scripts before it (measured peak of the process: 1.9 GB in this order, 2.2 GB the other way).
# bench_quality skips bf16 (slow without bf16 units), ff-init (TF Lite: bench_fast's) and coarse-to-fine
# with Adam (its arguments run in "lbfgs 64->128"); each contender costs a trace of its own.
SHARED = {
    "test_bench_memory_quick_prints_its_table": ["bench_memory.py", "--quick"],  # SqueezeNet at 256 px
    "test_bench_fast_quick_prints_its_tables": ["bench_fast.py", "--quick"],
    "test_bench_step_quick_prints_its_tables": ["bench_step.py", "--quick"],  # 64 px, one XLA config
    "test_bench_quality_quick_prints_the_race_and_the_sweep": [
        "bench_quality.py", "--quick", "--skip", "bf16", "ff-init", "coarse-to-fine", "--sweep", "2", "4",
        "--plot", "{out}/quality.png"],
}


def _env():
    return {**os.environ, "NST_VGG_WEIGHTS": os.environ.get("NST_VGG_WEIGHTS") or "random"}


@pytest.fixture(scope="module")
def shared_run(request, tmp_path_factory):
    """The selected tests' scripts, run one after another in one process; -> (output folder, the
    process's stdout and stderr)."""
    # getattr: nbval's notebook cells, collected with the tests by `make test`, have no module
    selected = {item.name for item in request.session.items if getattr(item, "module", None) is request.module}
    out = tmp_path_factory.mktemp("benchmarks")
    argv = []
    for test, (script, *args) in SHARED.items():
        if test in selected:
            argv += ["---", str(ROOT / "benchmarks" / script), *(a.format(out=out) for a in args)]
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "run_scripts.py"), str(out), *argv],
                          capture_output=True, text=True, timeout=1800, env=_env())
    return out, proc


def shared_output(shared_run, script):
    """``script``'s stdout from the shared process; fails with its traceback if it did not finish."""
    out, proc = shared_run
    stem = Path(script).stem
    status, err = out / f"{stem}.status", out / f"{stem}.err"
    errors = err.read_text()[-3000:] if err.is_file() else ""
    assert status.is_file(), (f"{script} did not finish: the shared process exited with {proc.returncode}\n"
                              f"{proc.stdout}{errors}\n{proc.stderr[-2000:]}")
    assert status.read_text().strip() == "0", f"{script} exited with {status.read_text().strip()}:\n{errors}"
    return (out / f"{stem}.out").read_text()


def run_quick(script):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                          capture_output=True, text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_bench_step_quick_prints_its_tables(shared_run):
    need_asset("tubingen_neckarfront")
    out = shared_output(shared_run, "bench_step.py")  # 64 px, one timed step, one XLA configuration
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in out.splitlines()
            if line.startswith("| tutorial-") or line.startswith("| course-")}
    assert sorted(rows) == sorted(["tutorial-eager", "tutorial-compiled", "course-fp32", "course-bf16",
                                   "course-xla-fp32", "course-xla-bf16"])
    measured = {config: float(cells[0]) for config, cells in rows.items() if "skipped" not in cells[0]}
    assert sorted(set(rows) - set(measured)) == ["course-xla-bf16"] and all(ms > 0 for ms in measured.values())
    speedups = next(line for line in out.splitlines() if line.startswith("- 64²:"))
    assert "speed-up against the tutorial" in out and "tutorial-compiled: 1.00x" in speedups
    assert "course-xla-fp32:" in speedups and "bench_quality.py" in out and "failed" not in out


def test_bench_fast_quick_prints_its_tables(shared_run):
    need_asset("magenta_style_transfer_f16")
    out = shared_output(shared_run, "bench_fast.py")
    for section in ("## 1. 384x384", "## 2. ms per image", "## 3. video path", "## 4. optimization vs"):
        assert section in out
    assert "| f16 | LiteRT, 2 threads, MIRROR_PAD rewritten |" in out
    assert "| f16 | 256 |" in out and "| int8 | 256 |" in out and "| int8 | style prediction (256) |" in out
    assert "| decode/encode threads | 0.5 |" in out and "| ratio |" in out


def test_bench_cli_errors_quick_prints_its_table():
    out = run_quick("bench_cli_errors.py")  # two mistakes, one round: ~1 s each
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row[0].strip() for row in rows] == ["misspelt course image", "not a picture"]
    assert all(row[4].strip() == "no" and row[5].strip() == "2" and float(row[2]) > 0 for row in rows)


def test_bench_memory_quick_prints_its_table(shared_run):
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    out = shared_output(shared_run, "bench_memory.py")
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| squeezenet |")]
    assert rows and "failed" not in out and "in this process" in out  # first in the shared process
    estimate, measured, ratio = (float(cell) for cell in rows[0][4:7])
    assert estimate > 0 and measured > 0 and ratio == pytest.approx(estimate / measured, abs=0.02)


def test_bench_quality_quick_prints_the_race_and_the_sweep(shared_run):
    for name in ("squeezenet_v1_1_notop", "tubingen_neckarfront", "vangogh_starry_night"):
        need_asset(name)
    out = shared_output(shared_run, "bench_quality.py")
    assert "time to quality at 128 px" in out and "| tutorial |" in out
    assert "| old defaults (schedule='classic') |" in out and "| schedule='fast' |" in out
    assert "| lr 0.05 -> x0.1 smoothly |" in out and "| lbfgs |" in out and "| lbfgs 64->128 [" in out
    assert "| num_steps | seconds |" in out and "failed" not in out
    assert (shared_run[0] / "quality.png").is_file()


def test_run_scripts_reports_each_script_on_its_own(tmp_path):
    """A script that raises leaves its traceback and status 1, and the next one still runs with its own
    argv, folder on sys.path and warning filters; output written below Python (fd 1) is captured too;
    a script that ends the process is reported as not finished."""
    (tmp_path / "helper_mod.py").write_text("VALUE = 7\n")
    (tmp_path / "broken.py").write_text(
        "import sys, warnings\nwarnings.simplefilter('ignore')\nprint('before', sys.argv[1:])\n"
        "raise ValueError('boom')\n")
    (tmp_path / "fine.py").write_text(
        "import os, sys, warnings\nfrom helper_mod import VALUE\nprint('args', sys.argv[1:], VALUE, __name__)\n"
        "print('filters reset:', not any(f[0] == 'ignore' and f[2] is Warning for f in warnings.filters))\n"
        "sys.stdout.flush()\nos.write(1, b'raw fd write\\n')\nsys.exit(3 if '--fail' in sys.argv else 0)\n")
    (tmp_path / "gone.py").write_text("import os\nos._exit(9)\n")  # takes the shared process with it
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "run_scripts.py"), str(out),
                           str(tmp_path / "broken.py"), "a", "---", str(tmp_path / "fine.py"), "b", "--fail",
                           "---", str(tmp_path / "gone.py")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9 and "fine: exit status 3" in proc.stdout, proc.stderr
    with pytest.raises(AssertionError, match="gone.py did not finish: the shared process exited with 9"):
        shared_output((out, proc), "gone.py")
    with pytest.raises(AssertionError, match="ValueError: boom"):
        shared_output((out, proc), "broken.py")
    assert (out / "broken.status").read_text() == "1\n" and (out / "broken.out").read_text() == "before ['a']\n"
    assert "Traceback" in (out / "broken.err").read_text() and "ValueError: boom" in (out / "broken.err").read_text()
    assert (out / "fine.status").read_text() == "3\n"
    assert (out / "fine.out").read_text() == ("args ['b', '--fail'] 7 __main__\nfilters reset: True\n"
                                             "raw fd write\n")
