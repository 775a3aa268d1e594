"""What the notebook tests share: the notebooks, running one in QUICK mode, its code cells.

The notebooks run in four files (the structure and assignments in `test_notebooks.py`, every
third tutorial in each of `test_tutorials_1.py`, `_2.py` and `_3.py`): `make test` hands whole
files to its two workers, and several minutes of notebooks in one file would keep one worker busy
long after the other is done.
"""

import os
import re
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "notebooks", "tools"))

import make_assignments  # noqa: E402
import run_notebooks  # noqa: E402

OUT = os.path.join(ROOT, "build", "test-notebooks")
TUTORIALS = run_notebooks.tutorial_notebooks()
SOLUTIONS = make_assignments.solution_notebooks()
ALL = TUTORIALS + SOLUTIONS
# QUICK should take about a minute on 2 CPU cores; this bound only catches a notebook whose QUICK
# mode is not quick at all (a shared machine can easily be 2-3 times slower).
QUICK_LIMIT_SECONDS = 240

needs_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the notebooks are TensorFlow tutorials (KERAS_BACKEND=tensorflow)"
)


def name_of(path):
    return os.path.relpath(path, os.path.join(ROOT, "notebooks"))


def run(path, out_dir, out_name=None):
    """Runs a notebook with QUICK=True; a cell error fails the test with its message."""
    try:
        result = run_notebooks.run_notebook(path, {"QUICK": True}, out_dir=out_dir, html=False, timeout=600,
                                            out_name=out_name)
    except run_notebooks.NotebookError as error:
        pytest.fail(str(error), pytrace=False)
    print(f"{name_of(path) if path.startswith(ROOT) else path}: {result.seconds:.1f} s")
    return result


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def check_tutorial_runs_quick(path):
    result = run(path, OUT)
    assert result.seconds < QUICK_LIMIT_SECONDS, (
        f"{name_of(path)} took {result.seconds:.0f} s with QUICK=True; QUICK should take about a minute"
    )
    unsupported = unsupported_numbers(result.notebook)
    assert not unsupported, (
        f"{name_of(path)}: numbers stated in markdown that no earlier cell printed or wrote (cell, number): "
        f"{unsupported}; render them from the run's variables or print them above"
    )


# Measurements in prose: a number with a decimal point or a percent sign, outside math and code spans.
MEASUREMENT = re.compile(r"(?<![\w.§])(\d+\.\d+|\d+(?:\.\d+)?%)(?!\w)")
MATH_OR_CODE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", re.S)
# Records of another run: from a paragraph that starts with this to the next heading.
RECORD = "**Full setting"


def unsupported_numbers(nb):
    """`(cell index, number)` of the measurements a markdown cell states that no earlier code cell printed or wrote.

    Exempt: the records of other runs (`RECORD` blocks) and paragraphs that cite `BENCHMARKS.md`, whose numbers
    are another run's by design; paper sections written as "section 3.3" or "§3.3".
    """
    seen, unsupported = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            seen.append(cell.source)
            for output in cell.get("outputs", []):
                seen.append(output.get("text", ""))
                seen += [value for kind, value in output.get("data", {}).items() if kind.startswith("text/")]
            continue
        if cell.cell_type != "markdown":
            continue
        prose, in_record = [], False
        for paragraph in cell.source.split("\n\n"):
            in_record = (in_record or paragraph.startswith(RECORD)) and not paragraph.startswith("#")
            if not in_record and "BENCHMARKS.md" not in paragraph:
                prose.append(re.sub(r"section \d+(\.\d+)*", "", paragraph))
        earlier = "\n".join(seen)
        unsupported += [(index, number) for number in MEASUREMENT.findall(MATH_OR_CODE.sub(" ", "\n\n".join(prose)))
                        if number not in earlier]
    return unsupported
