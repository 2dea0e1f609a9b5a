"""Lecture notebooks as committed: no outputs, the right Colab badge, a parameters cell, asserts.

nbval executes them (make test); these checks catch what execution cannot see.
"""

import json
import re
from pathlib import Path

import pytest

from nst_tf.config import COURSE_REPO

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


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
