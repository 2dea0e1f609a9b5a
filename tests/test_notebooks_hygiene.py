"""Lecture notebooks as committed: no outputs, the right Colab badge, a parameters cell, asserts.

nbval executes them (make test); these checks catch what execution cannot see.
"""

import json
import re
import tomllib
from pathlib import Path

import pytest

import nst_tf
from nst_tf.config import COURSE_REF, COURSE_REPO, INSTALL_SPEC

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


INSTALL_LINE = f'%pip install -q "{INSTALL_SPEC}"'
_INSTALLS = re.compile(r"pip\s+install|%pip|!pip|%conda|subprocess|git\+https")


def test_install_spec_is_the_release_tag_with_the_notebook_extras():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert nst_tf.__version__ == version and COURSE_REF == f"v{version}"
    assert INSTALL_SPEC == f"nst-course[notebooks] @ git+https://github.com/{COURSE_REPO}@v{version}"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    packages = {re.split(r"[<>=\[ ]", spec)[0] for spec in extras["notebooks"]}
    # every optional package a lecture imports: TF Hub (07), LiteRT (07), widgets (00, 08)
    assert {"tensorflow-hub", "tf-keras", "ai-edge-litert", "ipywidgets"} <= packages


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_installs_exactly_the_pinned_spec_then_calls_setup(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    install = code[0]
    assert 'if "google.colab" in sys.modules:' in install, f"{path.name}: install on Colab only"
    installing = [line.strip() for line in install.splitlines() if _INSTALLS.search(line)]
    assert installing == [INSTALL_LINE], f"{path.name}: the first code cell must install exactly {INSTALL_LINE}"
    for source in code[1:]:
        assert not _INSTALLS.search(source), f"{path.name}: installs something outside the first cell"
    tagged = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    after = "".join(cells[tagged + 1]["source"])
    assert re.search(r"^NB = nst_tf\.notebook_setup\(FAST, SEED, IMAGE_SIZE, NUM_STEPS\)$", after, re.M), \
        f"{path.name}: the cell after the parameters must be NB = nst_tf.notebook_setup(...)"


def test_notebook_names_are_numbered_snake_case():
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    for cell in code:
        assert not cell.get("outputs"), f"{path.name}: stored outputs (clear them before committing)"
        assert cell.get("execution_count") is None, f"{path.name}: execution counts are stored"
    ids = [c.get("id") for c in cells]  # nbformat 4.5 requires them; a missing one is a warning today
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: every cell needs its own id"
    first = "".join(cells[0]["source"])
    assert first.startswith("# "), f"{path.name}: the first cell must be the H1 title"
    badge = (f"https://colab.research.google.com/github/{COURSE_REPO}/blob/main/notebooks/{path.name}")
    head = "".join("".join(c["source"]) for c in cells[:2])
    assert badge in head, f"{path.name}: the Open-in-Colab badge must point at {badge}"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    assert re.search(r"^FAST\s*=", "".join(tagged[0]["source"]), re.M), f"{path.name}: FAST in parameters"
    asserts = [c for c in code if re.search(r"^\s*assert ", "".join(c["source"]), re.M)]
    assert len(asserts) >= 3, f"{path.name}: needs assert cells after derived functions"
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in text and "## Exercises" in text, f"{path.name}: Summary and Exercises"
    assert nb["metadata"].get("accelerator") == "GPU" or "colab" in nb["metadata"], path.name
