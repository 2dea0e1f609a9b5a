"""The student edition: solutions out, stubs in, nbgrader's markers and metadata, files current."""

import json
import re
from pathlib import Path

import pytest

from nst_tf.editions import BEGIN, END, render, strip_solution, student_notebook

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def cell(kind, source, grade_id="ex01_gram_matrix", solution=True):
    meta = {"nbgrader": {"solution": solution, "grade": False, "locked": False, "task": False,
                         "grade_id": grade_id, "schema_version": 3}} if solution else {}
    return {"cell_type": kind, "metadata": meta, "source": source.splitlines(keepends=True),
            **({"outputs": [], "execution_count": None} if kind == "code" else {})}


def test_code_solution_becomes_a_stub_at_the_same_indentation():
    source = (f"def gram_matrix(features):\n    \"\"\"Your docstring stays.\"\"\"\n    {BEGIN}\n"
              "    b, h, w, c = features.shape\n    return secret_answer\n    " + END + "\n\n\nx = 1\n")
    student = "".join(strip_solution(cell("code", source))["source"])
    assert student == ('def gram_matrix(features):\n    """Your docstring stays."""\n'
                       '    raise NotImplementedError("exercise: ex01_gram_matrix")\n\n\nx = 1\n')
    assert "secret_answer" not in student


def test_markdown_sample_answer_becomes_your_answer_here_and_other_cells_stay():
    answer = cell("markdown", f"**Sample answer.**\n{BEGIN}\nBecause the Gram matrix sums over positions.\n{END}\n")
    assert "".join(strip_solution(answer)["source"]) == "**Sample answer.**\nYOUR ANSWER HERE\n"
    plain = cell("code", "print(1)\n", solution=False)
    assert strip_solution(plain) is plain


@pytest.mark.parametrize("source", [f"{BEGIN}\nx = 1\n", "x = 1\n", f"{BEGIN}\nx\n{END}\n{END}\n"])
def test_broken_markers_are_an_error_not_a_leak(source):
    with pytest.raises(ValueError, match="marker"):
        strip_solution(cell("code", source))


def test_the_student_badge_points_at_the_student_edition():
    title = {"cell_type": "markdown", "metadata": {}, "source": [
        "# T\n", "[![Open In Colab](b.svg)](https://colab.research.google.com/github/o/r/blob/v1/notebooks/01_x.ipynb)"]}
    student = student_notebook({"cells": [title], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert "/blob/v1/student/01_x.ipynb" in "".join(student["cells"][0]["source"])


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_committed_student_edition_is_current_and_holds_no_solution(lecture):
    committed = ROOT / "student" / lecture.name
    assert committed.is_file(), f"run `make student`: {committed} is missing"
    notebook = json.loads(lecture.read_text(encoding="utf-8"))
    assert committed.read_text(encoding="utf-8") == render(student_notebook(notebook)), \
        f"{committed} is stale: run `make student` (the student edition is generated, never edited)"
    student = json.loads(committed.read_text(encoding="utf-8"))
    for original, stripped in zip(notebook["cells"], student["cells"]):
        text = "".join(stripped["source"])
        assert BEGIN not in text and END not in text
        if original.get("metadata", {}).get("nbgrader", {}).get("solution"):
            solution = "".join(original["source"]).split(BEGIN, 1)[1].split(END, 1)[0]
            body = [line.strip() for line in solution.splitlines()[1:] if line.strip()]
            assert not any(line in text for line in body if len(line) > 8), f"{lecture.name}: solution leaked"


def exercises(notebook):
    """(solution cell, check cell) pairs: a solution code cell and the graded cell after it."""
    cells = notebook["cells"]
    return [(c, cells[i + 1]) for i, c in enumerate(cells[:-1])
            if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def questions(notebook):
    """(question, the cell after it) for each numbered open question ("**1.** ...") of the Exercises."""
    cells = notebook["cells"]
    start = next((i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Exercises")), len(cells))
    return [(c, cells[i + 1] if i + 1 < len(cells) else None) for i, c in enumerate(cells[start:], start)
            if c["cell_type"] == "markdown" and re.match(r"\*\*\d+\.\*\*", "".join(c["source"]))]


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_every_lecture_has_checked_exercises_and_sample_answers(lecture):
    notebook = json.loads(lecture.read_text(encoding="utf-8"))
    pairs = exercises(notebook)
    if not lecture.name.startswith("00_"):
        assert pairs, f"{lecture.name}: no 'implement it' exercise (a solution cell followed by its check)"
    for solution, check in pairs:
        grade = check["metadata"]["nbgrader"]
        assert grade["grade"] and grade["locked"] and grade["points"] > 0, f"{lecture.name}: check cell metadata"
        assert re.fullmatch(r'nst_tf\.exercises\.check\("\w+", \w+\)', "".join(check["source"]).strip())
    asked = questions(notebook)
    assert len(asked) >= 3, f"{lecture.name}: numbered open questions ('**1.** ...') under '## Exercises'"
    for question, answer in asked:
        meta = (answer or {}).get("metadata", {}).get("nbgrader", {})
        assert meta.get("solution") and answer["cell_type"] == "markdown" and BEGIN in "".join(answer["source"]), \
            f"{lecture.name}: no sample answer after {''.join(question['source'])[:40]!r}"


@pytest.mark.parametrize("lecture", [p for p in LECTURES if not p.name.startswith("00_")], ids=lambda p: p.stem)
def test_a_stub_is_reported_not_attempted_instead_of_failing(lecture, capsys):
    # The solutions themselves pass their checks when the lectures run (make test executes every
    # check cell in context, with the lecture's own globals); here: the student edition's stub.
    import nst_tf

    notebook = json.loads(lecture.read_text(encoding="utf-8"))
    for solution, check in exercises(notebook):
        namespace = {"nst_tf": nst_tf}
        exec("".join(strip_solution(solution)["source"]), namespace)  # noqa: S102 - defines the stub
        assert eval("".join(check["source"]), namespace) is False
        assert "not attempted yet" in capsys.readouterr().out
