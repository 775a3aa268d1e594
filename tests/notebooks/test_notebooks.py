"""Every notebook is stripped and parameterised; assignment solutions pass, student versions run to the end.

Tutorials are `notebooks/*.ipynb` (a glob: new tutorials are picked up without changing this file);
assignments are `notebooks/assignments/*.ipynb`. Executed copies go to `build/test-notebooks/`;
a cell error fails the test with the notebook, the cell index, its source and the error. The
tutorials run in QUICK mode in `test_tutorials_1.py`, `_2.py` and `_3.py`.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from notebook_checks import ALL
from notebook_checks import OUT
from notebook_checks import ROOT
from notebook_checks import SOLUTIONS
from notebook_checks import TUTORIALS
from notebook_checks import code_cells
from notebook_checks import make_assignments
from notebook_checks import name_of
from notebook_checks import needs_tensorflow
from notebook_checks import run
from notebook_checks import run_notebooks
from notebook_checks import unsupported_numbers

# Structure: cheap checks on every committed notebook.


def test_numbers_in_prose_must_come_from_the_run():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("accuracy = 0.93", outputs=[v4.new_output("stream", name="stdout", text="accuracy 0.93\n")]),
        v4.new_markdown_cell("Accuracy 0.93 above, 94% agreement, $e^{0.5}$, `lr=0.01`, section 3.3."),
        v4.new_markdown_cell("**Full setting.** measured 0.88.\n\nstill that run: 0.77\n\n## Next\n\nnow 0.66"),
    ])
    assert unsupported_numbers(nb) == [(1, "94%"), (2, "0.66")]


@pytest.mark.parametrize("path", ALL, ids=name_of)
def test_notebooks_find_their_data_without_a_checkout(path):
    # A hosted runtime has the installed package, not this repository: data comes by name (a generator or a
    # download), never from a path relative to the package's files.
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(code_cells(nb)):
        assert "__file__" not in cell.source, f"{name_of(path)}: code cell {index} builds a path from __file__"


def test_there_are_notebooks():
    assert TUTORIALS, "no tutorial notebooks in notebooks/"
    assert len(SOLUTIONS) >= 3, "fewer than three assignments in notebooks/assignments/"


@pytest.mark.parametrize("path", TUTORIALS, ids=name_of)
def test_tutorials_hold_exercises(path):
    """Every tutorial asks the student to change something and predict the effect (`**Exercise.**` cells)."""
    exercises = [cell.source for cell in nbformat.read(path, as_version=4).cells
                 if cell.cell_type == "markdown" and cell.source.startswith("**Exercise.**")]
    assert len(exercises) >= 2, f"{name_of(path)} has {len(exercises)} exercises"
    assert all("before running" in " ".join(text.lower().split()) for text in exercises), (
        f"{name_of(path)}: an exercise asks for no prediction (\"Before running, ...\")")


@pytest.mark.parametrize("path", ALL, ids=name_of)
def test_notebook_is_stripped_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert run_notebooks.is_stripped(nb), (
        f"{name_of(path)} has outputs or execution counts; clear them before committing: "
        f"python notebooks/tools/run_notebooks.py --strip {os.path.relpath(path, ROOT)}"
    )
    parameters = [k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, f"{name_of(path)}: expected one cell tagged 'parameters', found {len(parameters)}"
    assert re.search(r"^QUICK = True\b", nb.cells[parameters[0]].source, re.MULTILINE), (
        f"{name_of(path)}: the parameters cell must set `QUICK = True`"
    )
    assert nb.cells[0].cell_type == "markdown", f"{name_of(path)}: should open with prose (a markdown cell)"
    for k, cell in enumerate(nb.cells[1:], 1):
        if cell.cell_type == "code":
            assert nb.cells[k - 1].cell_type == "markdown", (
                f"{name_of(path)}: code cell {k} has no prose before it (STYLE.md: prose before each code cell)"
            )


def test_kernel_runs_this_python():
    run_notebooks.check_kernel("python3")


# The tools themselves.


def test_parameters_are_injected_after_the_parameters_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("QUICK = True", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(QUICK)"),
    ]
    injected, index = run_notebooks.inject_parameters(nb, {"QUICK": False, "TASKS": ["adding"]})
    assert index == 2 and len(injected.cells) == 4 and len(nb.cells) == 3
    assert injected.cells[2].source.endswith("QUICK = False\nTASKS = ['adding']")
    assert injected.cells[2].metadata["tags"] == ["injected-parameters"]
    again, _ = run_notebooks.inject_parameters(injected, {"QUICK": True})
    assert len(again.cells) == 4 and again.cells[2].source.endswith("QUICK = True")
    assert run_notebooks.parse_parameter("QUICK=False") == ("QUICK", False)
    assert run_notebooks.parse_parameter("DATASET=data/reviews.tsv") == ("DATASET", "data/reviews.tsv")


def test_cell_error_names_notebook_cell_and_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("QUICK = True", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("# a failing cell\nraise ValueError('broken on purpose')"),
        nbformat.v4.new_code_cell("print('never')"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(run_notebooks.NotebookError) as raised:
        run_notebooks.run_notebook(str(path), {"QUICK": True}, out_dir=str(tmp_path / "out"), html=False, timeout=60)
    error = raised.value
    assert error.cell_index == 2  # the index in the notebook as written, not counting the injected cell
    assert str(error).startswith(f"{path}: cell 2 raised ValueError: broken on purpose")
    assert "# a failing cell" in str(error)
    assert os.path.exists(error.executed_path)


def test_student_version_replaces_every_solution():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(1)"
    assert make_assignments.remove_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(1)"
    )
    assert make_assignments.remove_solutions("### BEGIN SOLUTION\nan answer\n### END SOLUTION", markdown=True) == (
        "YOUR ANSWER HERE"
    )
    for broken in ("### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION"):
        with pytest.raises(ValueError, match="line"):
            make_assignments.remove_solutions(broken)
    for path in SOLUTIONS:
        student = make_assignments.make_student_notebook(nbformat.read(path, as_version=4), name_of(path))
        text = "\n".join(cell.source for cell in student.cells)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert "raise NotImplementedError()" in text
        assert run_notebooks.is_stripped(student)


@pytest.mark.parametrize("path", SOLUTIONS, ids=name_of)
def test_assignments_carry_their_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    graded = [cell for cell in nb.cells if "nbgrader" in cell.metadata]
    assert graded, f"{name_of(path)}: no nbgrader metadata (make_assignments.py --nbgrader-metadata)"
    for index, cell in enumerate(nb.cells):
        assert cell.metadata.get("nbgrader") == make_assignments.nbgrader_metadata(cell), (
            f"{name_of(path)}, cell {index}: nbgrader metadata out of date; "
            "python notebooks/tools/make_assignments.py --nbgrader-metadata"
        )
        if cell.cell_type == "code" and make_assignments.CHECK_CALL in cell.source:  # scored by whether it raises
            assert "raises-exception" in cell.metadata.get("tags", []), f"{name_of(path)}, cell {index}"
            for result in re.findall(r"^(result_\w+) = grading\.check_", cell.source, re.MULTILINE):
                assert f"assert {result}.passed" in cell.source, f"{name_of(path)}, cell {index}: {result}"


@needs_tensorflow
@pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed")
def test_nbgrader_releases_and_autogrades_an_assignment(tmp_path):
    from nbgrader.api import Gradebook

    (path,) = [p for p in SOLUTIONS if p.endswith("a3_beam_search.ipynb")]
    name = os.path.basename(path)
    os.makedirs(tmp_path / "source" / "a3")
    shutil.copy(path, tmp_path / "source" / "a3" / name)

    def nbgrader(*args):
        path_with_its_tools = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]  # it runs alembic
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={tmp_path}"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=600,
                              env={**os.environ, "PATH": path_with_its_tools})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    nbgrader("generate_assignment", "a3", "--force")
    release = (tmp_path / "release" / "a3" / name).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in release and "raise NotImplementedError()" in release
    for student, notebook in (("unfinished", tmp_path / "release" / "a3" / name), ("solved", path)):
        os.makedirs(tmp_path / "submitted" / student / "a3")
        shutil.copy(notebook, tmp_path / "submitted" / student / "a3" / name)
    nbgrader("autograde", "a3", "--create", "--force")
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        maximum = gradebook.find_assignment("a3").max_score
        scores = {student: gradebook.find_submission("a3", student).score for student in ("unfinished", "solved")}
    assert maximum == 1 and scores == {"unfinished": 0, "solved": maximum}


# Running them.


@needs_tensorflow
@pytest.mark.parametrize("path", SOLUTIONS, ids=name_of)
def test_assignment_solution_passes_its_checks(path):
    result = run(path, os.path.join(OUT, "solutions"))
    lines = run_notebooks.grading_results(result.notebook)
    calls = sum(cell.source.count("grading.check_") for cell in code_cells(result.notebook))
    assert lines and len(lines) == calls, f"{name_of(path)}: {calls} checks in the code, {len(lines)} results printed"
    failed = [name for name, verdict in lines if verdict != "PASSED"]
    printed = run_notebooks.printed_text(result.notebook)
    assert not failed, f"{name_of(path)}: the solution does not pass {failed}:\n{printed}"


@needs_tensorflow
@pytest.mark.parametrize("path", SOLUTIONS, ids=name_of)
def test_student_version_runs_with_checks_not_passed(path):
    student_dir = os.path.join(OUT, "student-sources")
    (student_path,) = make_assignments.write_student_notebooks([path], student_dir)
    result = run(student_path, os.path.join(OUT, "students"))
    lines = run_notebooks.grading_results(result.notebook)
    calls = sum(cell.source.count("grading.check_") for cell in code_cells(result.notebook))
    assert lines and len(lines) == calls, f"{name_of(path)}: {calls} checks in the code, {len(lines)} results printed"
    passed = [name for name, verdict in lines if verdict != "NOT PASSED"]
    assert not passed, f"{name_of(path)}: the unfinished student version passes {passed}"
