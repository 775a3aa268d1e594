"""Generates the student versions of the assignment notebooks (nbgrader's solution markers).

The solution notebooks in `notebooks/assignments/` mark the answers:

    def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

In a code cell, everything from `### BEGIN SOLUTION` to `### END SOLUTION` (both lines included)
becomes `# YOUR CODE HERE` and `raise NotImplementedError()` at the indentation of the BEGIN
line; in a markdown cell it becomes `YOUR ANSWER HERE`. Outputs and execution counts are
cleared. The student notebooks go to `build/assignments/` (same file names). The checks of
`lstm_keras.grading` report an unfinished answer as not passed without raising, so a student
notebook runs to the end.

The solution notebooks are also nbgrader "source" notebooks (https://nbgrader.readthedocs.io):
`nbgrader_metadata` gives each answer cell, written answer and check cell its nbgrader metadata,
and `--nbgrader-metadata` writes it into them (the tests require it to be there and current).
Each check cell ends with `assert result.passed` and carries the `raises-exception` tag: nbgrader's
autograder scores a check cell by whether it raised, while a notebook runner (and a student)
still runs on to the end past a failed check.

Usage:
    python notebooks/tools/make_assignments.py [SOLUTION_NOTEBOOK ...] [--out build/assignments]
    python notebooks/tools/make_assignments.py --nbgrader-metadata   # rewrite the solutions' nbgrader metadata
"""

import argparse
import glob
import os
import sys

import nbformat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_notebooks import ROOT  # noqa: E402
from run_notebooks import strip_outputs  # noqa: E402

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
DEFAULT_OUT = os.path.join(ROOT, "build", "assignments")


def remove_solutions(source, markdown=False, where="cell"):
    """Replaces every solution region of a cell's source; raises ValueError on unbalanced markers.

    Example:
    >>> print(remove_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    """
    out = []
    inside = None
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside a solution opened on line {inside}")
            inside = number
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}YOUR ANSWER HERE"] if markdown else [f"{indent}# YOUR CODE HERE",
                                                                   f"{indent}raise NotImplementedError()"]
        elif stripped == END:
            if inside is None:
                raise ValueError(f"{where}, line {number}: {END} without a {BEGIN}")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}, line {inside}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def has_solution(source):
    """Whether a cell's source holds a solution region (a `### BEGIN SOLUTION` line)."""
    return any(line.strip() == BEGIN for line in source.splitlines())


# The call that makes a code cell an autograded check, and nbgrader's metadata schema.
CHECK_CALL = "grading.check_"
NBGRADER_SCHEMA = 3


def nbgrader_metadata(cell):
    """The nbgrader metadata of a solution notebook's cell, or None for an ordinary cell.

    A code cell with a solution region is an answer (`solution`); a markdown one a written
    answer graded by hand (`solution` and `grade`, one point); a code cell that calls
    `grading.check_*` an autograded test, locked, a point per check. The grade id is the cell's
    id, stable when cells are added around it.

    Example:
    >>> cell = nbformat.v4.new_code_cell("result = grading.check_lstm_step(lstm_step)")
    >>> meta = nbgrader_metadata(cell)
    >>> meta["grade"], meta["locked"], meta["points"], meta["solution"]
    (True, True, 1, False)
    """
    answer = has_solution(cell.source)
    check = cell.cell_type == "code" and CHECK_CALL in cell.source
    if not (answer or check):
        return None
    grade = check or (answer and cell.cell_type == "markdown")
    meta = {"grade": grade, "grade_id": cell.id, "locked": check, "schema_version": NBGRADER_SCHEMA,
            "solution": answer}
    if grade:
        meta["points"] = cell.source.count(CHECK_CALL) if check else 1
    return meta


def set_nbgrader_metadata(path):
    """Writes `nbgrader_metadata` into the cells of the solution notebook at `path`; returns how many cells have it."""
    nb = nbformat.read(path, as_version=4)
    graded = 0
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        cell.metadata.pop("nbgrader", None)
        if meta is not None:
            cell.metadata["nbgrader"] = meta
            graded += 1
    nbformat.write(nb, path)
    return graded


def make_student_notebook(nb, name="notebook"):
    """Returns the student version of a solution notebook (a new node; outputs cleared).

    Raises:
        ValueError: unbalanced markers, or a notebook without any solution.
    """
    nb = strip_outputs(nb)
    regions = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        regions += cell.source.count(BEGIN)
        cell.source = remove_solutions(cell.source, cell.cell_type == "markdown", f"{name}, cell {index}")
    if not regions:
        raise ValueError(f"{name}: no {BEGIN} / {END} region: is it a solution notebook?")
    nb.metadata["lstm_keras"] = {"generated_from": name, "by": "notebooks/tools/make_assignments.py"}
    return nb


def solution_notebooks():
    """The solution notebooks: `notebooks/assignments/*.ipynb`, in name order."""
    return sorted(glob.glob(os.path.join(ROOT, "notebooks", "assignments", "*.ipynb")))


def write_student_notebooks(paths=None, out_dir=DEFAULT_OUT):
    """Writes the student version of every solution notebook to `out_dir`; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path in paths or solution_notebooks():
        name = os.path.basename(path)
        student = make_student_notebook(nbformat.read(path, as_version=4), name)
        target = os.path.join(out_dir, name)
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="solution notebooks (default: notebooks/assignments/*.ipynb)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default build/assignments)")
    parser.add_argument("--nbgrader-metadata", action="store_true",
                        help="write the nbgrader metadata into the solution notebooks instead")
    args = parser.parse_args(argv)
    if args.nbgrader_metadata:
        for path in args.notebooks or solution_notebooks():
            print(f"{os.path.relpath(path)}: {set_nbgrader_metadata(path)} nbgrader cells")
        return 0
    for target in write_student_notebooks(args.notebooks, args.out):
        print(f"wrote {os.path.relpath(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
