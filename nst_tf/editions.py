"""The student edition of the lectures: solutions replaced by stubs, in nbgrader's format.

``make student`` runs ``python -m nst_tf.editions notebooks student`` and is the only way the
files in ``student/`` are made (a test checks they are current). The lectures in ``notebooks/``
are the instructor edition: they hold the solutions and sample answers, and CI runs them.

Marking, as nbgrader expects it, so an instructor can import the lectures into nbgrader unchanged:

- an exercise's code cell has ``metadata.nbgrader.solution = true`` and its solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines; here that part becomes
  ``raise NotImplementedError("exercise: <grade_id>")`` at the same indentation;
- the cell after it calls ``nst_tf.exercises.check(name, fn)`` and is ``grade: true, locked``;
  with a stub in place ``check`` prints "not attempted yet" instead of failing, so the student
  edition still runs top to bottom;
- a sample answer to an open question is a markdown cell with ``solution = true``; its text
  between the markers becomes "YOUR ANSWER HERE".
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_BLOCK = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$", re.S | re.M)


def is_solution(cell: dict) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def strip_solution(cell: dict) -> dict:
    """The student's version of one solution cell (other cells come back unchanged)."""
    if not is_solution(cell):
        return cell
    source = "".join(cell["source"])
    grade_id = cell["metadata"]["nbgrader"].get("grade_id", "exercise")
    if BEGIN not in source:
        raise ValueError(f"solution cell {grade_id!r} has no {BEGIN!r} marker")
    if cell["cell_type"] == "code":
        stub = lambda m: f'{m.group(1)}raise NotImplementedError("exercise: {grade_id}")'  # noqa: E731
    else:
        stub = lambda m: f"{m.group(1)}YOUR ANSWER HERE"  # noqa: E731
    stripped = _BLOCK.sub(stub, source)
    if BEGIN in stripped or END in stripped:
        raise ValueError(f"solution cell {grade_id!r}: unbalanced {BEGIN!r} / {END!r} markers")
    student = copy.deepcopy(cell)
    student["source"] = stripped.splitlines(keepends=True)
    return student


def student_notebook(notebook: dict) -> dict:
    """The student edition of one lecture: every solution stripped, the Colab badge pointing at
    ``student/``, nothing else changed."""
    student = copy.deepcopy(notebook)
    student["cells"] = [strip_solution(cell) for cell in notebook["cells"]]
    title = student["cells"][0]
    title["source"] = "".join(title["source"]).replace("/notebooks/", "/student/").splitlines(keepends=True)
    return student


def render(notebook: dict) -> str:
    """The notebook as ``notebooks/`` stores it (nbformat's layout), so diffs stay small."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def write_student_edition(source_dir: str | Path, target_dir: str | Path) -> list[Path]:
    """Write ``target_dir/NN_*.ipynb`` for every lecture in ``source_dir``; returns the paths."""
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for lecture in sorted(source_dir.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(lecture.read_text(encoding="utf-8"))
        path = target_dir / lecture.name
        path.write_text(render(student_notebook(notebook)), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    source, target = sys.argv[1:3] if len(sys.argv) == 3 else ("notebooks", "student")
    for path in write_student_edition(source, target):
        print(f"wrote {path}")
