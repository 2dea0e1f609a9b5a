"""Every lecture's full-mode code, executed at toy size.

nbval runs the notebooks in fast mode (``make test``). A teacher on a Colab GPU runs full mode:
VGG19, larger grids, L-BFGS comparisons, the hub model. Here papermill runs each notebook once
more through its parameters cell with ``FAST=False`` and a tiny ``IMAGE_SIZE``/``NUM_STEPS``, so
that code has executed before a class sees it. VGG has the weights CI has (untrained offline);
an assert about the *look* of a result holds only at full quality and is guarded by
``FULL_QUALITY`` in the notebook. The TF Hub model cannot be downloaded here: a stand-in SavedModel
with Magenta's signature takes its place (``NST_HUB_MODEL``).
"""

from pathlib import Path

import papermill
import pytest

from conftest import save_hub_stand_in

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TOY = {"FAST": False, "IMAGE_SIZE": 64, "NUM_STEPS": 3}


@pytest.fixture(scope="module")
def hub_stand_in(tmp_path_factory):
    return save_hub_stand_in(tmp_path_factory.mktemp("hub") / "magenta_stand_in")


def run_full_mode_at_toy_size(path, tmp_path, monkeypatch, hub_stand_in):
    monkeypatch.setenv("NST_HUB_MODEL", hub_stand_in)  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("NST_SAVE_FIGURES", raising=False)
    executed = papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters=TOY,
                                          cwd=str(path.parent), kernel_name="python3",
                                          progress_bar=False, log_output=False)
    setup = next("".join(c["source"]) for c in executed["cells"] if "injected-parameters" in
                 c.get("metadata", {}).get("tags", []))
    assert "FAST = False" in setup and "IMAGE_SIZE = 64" in setup


# One class per lecture: `make test` distributes by scope (--dist loadscope), and a class is a
# scope of its own, so the two workers share these runs (as one module they were 4-5 minutes
# of one worker).
for _path in NOTEBOOKS:
    _name = f"TestFullMode{_path.stem[:2]}"

    def _test(self, tmp_path, monkeypatch, hub_stand_in, path=_path):
        run_full_mode_at_toy_size(path, tmp_path, monkeypatch, hub_stand_in)

    _test.__name__ = f"test_{_path.stem}_runs_at_toy_size"
    globals()[_name] = type(_name, (), {_test.__name__: _test})
del _path, _name, _test
