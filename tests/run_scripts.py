"""Run several scripts one after another in this one Python process (tests/test_benchmarks.py).

    python tests/run_scripts.py OUTDIR SCRIPT [ARG ...] [--- SCRIPT [ARG ...]] ...

Every Python process that imports TensorFlow pays ~4.5 s of CPU for the import; the benchmarks'
``--quick`` modes run here in one process pay it once. Still a process of their own, not the pytest
worker's: the scripts change TensorFlow's global state (dtype policies, compiled functions).

Each script runs as ``python SCRIPT ARG ...`` would (``__name__ == "__main__"``, ``sys.argv``, its
folder first on ``sys.path``). Its stdout and stderr go to OUTDIR/<stem>.out and OUTDIR/<stem>.err at
the file-descriptor level, so TensorFlow's own C++ messages land there too. When it ends,
OUTDIR/<stem>.status holds its exit status: 0, the code it passed to ``sys.exit``, or 1 when it raised
(the traceback is in its .err). A failing script does not stop the next one. Between scripts the
warning filters, ``sys.path``, the environment and Keras's global dtype policy are put back as they
were, Keras's session is cleared and the C heap's freed pages go back to the system. The process's
own stdout logs each script's exit status, CPU time and memory.
"""

from __future__ import annotations

import contextlib
import gc
import os
import runpy
import sys
import time
import traceback
import warnings
from pathlib import Path


@contextlib.contextmanager
def redirected(out_path: Path, err_path: Path):
    """File descriptors 1 and 2 (Python's and the C libraries' output) into two files."""
    with open(out_path, "w") as out, open(err_path, "w") as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_script(script: Path, args: list[str]) -> int:
    """``python script *args`` in this process; its exit status."""
    argv, path, environ = sys.argv[:], sys.path[:], dict(os.environ)
    keras = sys.modules.get("keras")
    policy = keras.config.dtype_policy() if keras is not None else None
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    try:
        with warnings.catch_warnings():
            runpy.run_path(str(script), run_name="__main__")
        return 0
    except SystemExit as stop:
        code = stop.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        return code or 0
    except BaseException:  # KeyboardInterrupt too: the status says the script did not finish
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = argv, path
        os.environ.clear()
        os.environ.update(environ)
        keras = sys.modules.get("keras")
        if keras is not None:
            keras.config.set_dtype_policy(policy or "float32")
            keras.backend.clear_session()
        gc.collect()
        release_freed_memory()


def release_freed_memory() -> None:
    """Hand the C heap's freed pages back to the system (glibc), so the next script's peak memory
    starts from what is still in use, not from the previous script's peak."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def memory() -> str:
    """This process's resident memory now and at its peak (Linux), for the log of a shared run."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return f"RSS {int(fields['VmRSS'].split()[0]) >> 10} MiB, peak {int(fields['VmHWM'].split()[0]) >> 10} MiB"
    except (OSError, KeyError, ValueError):
        return "memory not known here"


def main(argv: list[str]) -> int:
    out_dir, runs = Path(argv[0]), [[]]
    for arg in argv[1:]:
        if arg == "---":
            runs.append([])
        else:
            runs[-1].append(arg)
    out_dir.mkdir(parents=True, exist_ok=True)
    for script, *args in filter(None, runs):
        stem = Path(script).stem
        cpu = time.process_time()
        with redirected(out_dir / f"{stem}.out", out_dir / f"{stem}.err"):
            status = run_script(Path(script).resolve(), args)
        (out_dir / f"{stem}.status").write_text(f"{status}\n")
        print(f"{stem}: exit status {status}; {time.process_time() - cpu:.1f} s of CPU; {memory()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
