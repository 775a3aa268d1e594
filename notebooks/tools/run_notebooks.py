"""Executes notebooks with nbclient, papermill-style parameters; writes executed copies and HTML to build/.

Every notebook has a code cell tagged `parameters` holding its defaults (`QUICK = True`, the
data-set choice, ...). As papermill does, the values given here go into a new cell tagged
`injected-parameters`, inserted right after it (at the top when a notebook has no parameters
cell), so the notebook reads top to bottom with the values it ran with. The executed copy
(`<out>/<name>.ipynb`) and its HTML rendering (`<out>/<name>.html`) are written even when a cell
fails; the error names the notebook, the cell index (in the notebook as committed), the head of
the cell's source and the exception. The kernel process's own stderr (TensorFlow's C++ start-up
logs, a crash message) goes to `<out>/<name>.kernel.log`.

Usage:
    python notebooks/tools/run_notebooks.py                      # every tutorial, QUICK=True
    python notebooks/tools/run_notebooks.py notebooks/04_long_range_memory.ipynb -p QUICK=False
    python notebooks/tools/run_notebooks.py --strip notebooks/*.ipynb   # clear outputs in place
    python notebooks/tools/run_notebooks.py --expect-checks passed notebooks/assignments/*.ipynb

Assignment notebooks print one `[grading] <check>: PASSED` / `NOT PASSED` line per check
(`lstm_keras.grading`); the runner counts them, and `--expect-checks` makes it fail when a
notebook's results are not all the expected ones.

The kernel is the `python3` kernel spec, which must run this Python (the project's virtualenv);
`check_kernel` says how to install it when it does not.
"""

import argparse
import ast
import copy
import dataclasses
import glob
import os
import re
import sys
import time

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, "build", "notebooks")
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# The environment every kernel starts with (unless already set): TensorFlow, quiet logs.
KERNEL_ENV_DEFAULTS = {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
# TensorFlow's C++ start-up log lines ("I0000 00:00:17... port.cc:153] oneDNN ..."), which it writes
# to stderr before TF_CPP_MIN_LOG_LEVEL applies; the executed copies leave them out.
GRADING_LINE = re.compile(r"^\[grading\] (.+?): (PASSED|NOT PASSED)", re.MULTILINE)
TF_LOG_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] .*)$"
)


class NotebookError(Exception):
    """A cell of a notebook raised: the notebook, the cell, its source head and the error."""

    def __init__(self, notebook, cell_index, source, ename, evalue, traceback="", executed_path=None, injected=False):
        self.notebook = notebook
        self.cell_index = cell_index  # in the notebook as committed (None: injected or unknown)
        self.source = source
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        self.executed_path = executed_path
        head = "\n".join("    " + line for line in source.splitlines()[:8])
        where = "the injected parameters cell" if injected else f"cell {cell_index}"
        message = f"{notebook}: {where} raised {ename}: {evalue}\n  source:\n{head}"
        if executed_path:
            message += f"\n  executed copy with the traceback: {executed_path}"
        super().__init__(message)


@dataclasses.dataclass
class RunResult:
    """An executed notebook: its node, the time it took and where its copies were written."""

    path: str
    notebook: nbformat.NotebookNode
    seconds: float
    executed_path: str | None
    html_path: str | None


def parse_parameter(text):
    """`"QUICK=False"` -> `("QUICK", False)`; values are Python literals, anything else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, received {text!r}")
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value


def inject_parameters(nb, parameters):
    """Returns a copy of `nb` with a cell setting `parameters`, and that cell's index (or None).

    The cell is tagged `injected-parameters` and placed right after the cell tagged `parameters`
    (at the top if there is none); an injected cell already there is replaced.
    """
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    if not parameters:
        return nb, None
    lines = ["# Parameters injected by notebooks/tools/run_notebooks.py"]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    index = next(
        (k + 1 for k, c in enumerate(nb.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), 0
    )
    nb.cells.insert(index, cell)
    return nb, index


def check_kernel(kernel_name="python3"):
    """Checks that the kernel spec `kernel_name` runs this Python; raises RuntimeError saying how to fix it."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.kernelspec import NoSuchKernel

    fix = (
        f"install one for this Python with:\n    {sys.executable} -m ipykernel install --sys-prefix "
        f"--name {kernel_name}"
    )
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RuntimeError(f"No Jupyter kernel spec {kernel_name!r}; {fix}") from None
    program = spec.argv[0]
    # jupyter_client runs a spec whose program is plain "python" with this very interpreter.
    if program in ("python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])):
        return spec
    if os.path.realpath(program) != os.path.realpath(sys.executable):
        raise RuntimeError(
            f"The Jupyter kernel spec {kernel_name!r} ({spec.resource_dir}) runs {program}, not this "
            f"Python ({sys.executable}), so the notebooks would not see this environment; {fix}"
        )
    return spec


def kernel_env():
    """The kernel's environment: this one, with the defaults above, and matplotlib's inline backend."""
    env = dict(os.environ)
    for name, value in KERNEL_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    env.pop("MPLBACKEND", None)  # ipykernel then picks its inline backend
    return env


def run_notebook(path, parameters=None, out_dir=DEFAULT_OUT, html=True, timeout=600, kernel_name="python3",
                 out_name=None):
    """Executes one notebook in its own kernel, its working directory the notebook's folder.

    Args:
        path: the notebook.
        parameters: dict of values to inject (see `inject_parameters`).
        out_dir: where the executed copy and the HTML go; None writes nothing.
        html: whether to write the HTML rendering.
        timeout: seconds a cell may run.
        kernel_name: the Jupyter kernel spec.
        out_name: the file name (without extension) of the copies; default the notebook's.

    Returns:
        A `RunResult`.

    Raises:
        NotebookError: a cell raised, ran past `timeout` or killed the kernel (the copies are
            written first).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbclient.exceptions import CellTimeoutError
    from nbclient.exceptions import DeadKernelError

    check_kernel(kernel_name)
    source = nbformat.read(path, as_version=4)
    nb, injected = inject_parameters(source, parameters)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    name = out_name or os.path.splitext(os.path.basename(path))[0]
    # The kernel process's own stderr (TensorFlow's C++ start-up logs, which the notebook's outputs
    # also get, and anything it says if it dies) goes to a log file next to the executed copy.
    log_path = None
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        log_path = os.path.join(out_dir, f"{name}.kernel.log")
    start = time.monotonic()
    error = None
    with open(log_path or os.devnull, "w") as kernel_log:
        try:
            client.execute(env=kernel_env(), stderr=kernel_log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as raised:
            error = raised
    seconds = time.monotonic() - start
    drop_tensorflow_logs(nb)
    nb.metadata["lstm_keras"] = {"parameters": dict(parameters or {}), "seconds": round(seconds, 1)}
    executed_path, html_path = _write_copies(nb, out_dir, name, html)
    if error is not None:
        index, cell = _failed_cell(nb, getattr(error, "cell_index", None))
        original = index
        if index is not None and injected is not None and index >= injected:
            original = None if index == injected else index - 1  # the index in the committed notebook
        evalue = getattr(error, "evalue", str(error))
        if isinstance(error, DeadKernelError) and log_path:
            evalue += f" (the kernel's stderr: {log_path})"
        raise NotebookError(
            path, original, cell.source if cell is not None else "",
            getattr(error, "ename", type(error).__name__), evalue,
            getattr(error, "traceback", ""), executed_path, injected=index is not None and index == injected,
        )
    return RunResult(path, nb, seconds, executed_path, html_path)


def drop_tensorflow_logs(nb):
    """Removes TensorFlow's C++ log lines from the stderr outputs of an executed notebook (in place)."""
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output.text = "".join(
                    line for line in output.text.splitlines(keepends=True) if not TF_LOG_LINE.match(line.rstrip("\n"))
                )
                if not output.text:
                    continue
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return nb


def _failed_cell(nb, index_hint):
    """The index and cell of the first cell with an error output (the cell that was running on a timeout)."""
    for k, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return k, cell
    if index_hint is not None:
        return index_hint, nb.cells[index_hint]
    # A timeout leaves no error output: the running cell is the last code cell with a count.
    executed = [k for k, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
    running = [k for k, c in enumerate(nb.cells) if c.cell_type == "code" and k > (executed[-1] if executed else -1)]
    k = running[0] if running else (executed[-1] if executed else None)
    return k, None if k is None else nb.cells[k]


def _write_copies(nb, out_dir, name, html):
    if out_dir is None:
        return None, None
    os.makedirs(out_dir, exist_ok=True)
    executed_path = os.path.join(out_dir, f"{name}.ipynb")
    nbformat.write(nb, executed_path)
    html_path = None
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        html_path = os.path.join(out_dir, f"{name}.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(body)
    return executed_path, html_path


def printed_text(nb):
    """Everything the code cells of an executed notebook printed to stdout."""
    return "".join(
        output.get("text", "") for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


def grading_results(nb):
    """The `(check, "PASSED" | "NOT PASSED")` results an executed assignment notebook printed."""
    return GRADING_LINE.findall(printed_text(nb))


def strip_outputs(nb):
    """Returns a copy of `nb` without outputs, execution counts or injected cells (what git keeps)."""
    nb, _ = inject_parameters(nb, None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("lstm_keras", None)
    return nb


def is_stripped(nb):
    """Whether a notebook has no outputs and no execution counts."""
    return all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def tutorial_notebooks():
    """The tutorial notebooks: `notebooks/*.ipynb`, in name order."""
    return sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument("-p", "--parameter", action="append", type=parse_parameter, default=[],
                        metavar="NAME=VALUE", help="a parameter to inject (repeatable); default QUICK=True")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the executed copies and HTML (default build/notebooks)")
    parser.add_argument("--no-html", action="store_true", help="do not write HTML renderings")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run")
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel spec")
    parser.add_argument("--strip", action="store_true", help="clear outputs in place instead of running")
    parser.add_argument("--expect-checks", choices=["passed", "not-passed"],
                        help="fail unless every notebook prints grading results, all PASSED (or all NOT PASSED)")
    args = parser.parse_args(argv)
    paths = args.notebooks or tutorial_notebooks()

    if args.strip:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            if not is_stripped(nb):
                nbformat.write(strip_outputs(nb), path)
                print(f"stripped {path}")
        return 0

    parameters = dict(args.parameter) or {"QUICK": True}
    failures = []
    for path in paths:
        print(f"running {os.path.relpath(path)} with {parameters} ...", flush=True)
        try:
            result = run_notebook(path, parameters, args.out, not args.no_html, args.timeout, args.kernel)
        except NotebookError as error:
            print(f"FAILED {error}", flush=True)
            failures.append(path)
            continue
        written = ", ".join(os.path.relpath(p) for p in (result.executed_path, result.html_path) if p)
        print(f"  ok in {result.seconds:.1f} s -> {written}", flush=True)
        results = grading_results(result.notebook)
        if results:
            passed = sum(verdict == "PASSED" for _, verdict in results)
            print(f"  checks: {passed} passed, {len(results) - passed} not passed", flush=True)
        if args.expect_checks:
            expected = "PASSED" if args.expect_checks == "passed" else "NOT PASSED"
            wrong = [name for name, verdict in results if verdict != expected]
            if not results or wrong:
                print(f"FAILED {path}: expected every check {expected}; "
                      + (f"not so for {wrong}" if wrong else "no check results printed"), flush=True)
                failures.append(path)
    if failures:
        print(f"{len(failures)} of {len(paths)} notebooks failed: {', '.join(map(os.path.relpath, failures))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
