"""Crash-safe file output and strict TSV reading shared by every task (models load through `lstm_keras.saving`).

Everything the project writes (models, SavedModels, vocabularies, metrics, plots) goes through
`atomic_path`, for one file or one folder (a SavedModel, a whole staged `--out`): the content is
written under a temporary name beside the target and renamed into place only once it is
complete, so a crash never leaves a truncated artifact where a good one was.
"""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` if the block succeeds.

    Works for files and for directories (e.g. a SavedModel): whatever the block writes at the
    yielded path replaces `path` in one rename. On an exception the temporary is removed and
    `path` is left as it was.

    Example:
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "metrics.json")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("{}")
    >>> open(target).read()
    '{}'
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    base = os.path.basename(path)
    tmp_dir = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    tmp = os.path.join(tmp_dir, base)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise FileNotFoundError(f"nothing was written for {path!r}")
        replace_path(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def replace_path(source, target):
    """Renames the file or folder `source` onto `target` (same file system), replacing it.

    A folder cannot be renamed over a non-empty one, so an old `target` folder is first renamed
    aside and removed after the swap: `target` is at every moment either the old or the new one
    (or, for the instant between two renames, absent), never a mix of both.
    """
    source, target = os.fspath(source), os.fspath(target)
    if os.path.isdir(source) and os.path.isdir(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".old",
                               dir=os.path.dirname(os.path.abspath(target)))
        os.rename(target, os.path.join(old, "old"))
        os.rename(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)


def write_text(path, text):
    """Writes `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def read_tsv(path, min_columns, encoding="utf-8"):
    """Reads a tab-separated file into rows of `min_columns` fields (extra columns ignored).

    Args:
        path: the file.
        min_columns: the number of leading columns each non-empty line must have.
        encoding: the text encoding.

    Returns:
        A list of tuples of `min_columns` strings, one per non-empty line.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: a line has fewer than `min_columns` columns; the message names the file,
            the line number and the number of columns found.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TSV file not found: {path}")
    rows = []
    with open(path, encoding=encoding, errors="replace") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < min_columns:
                raise ValueError(
                    f"{path}, line {number}: expected at least {min_columns} tab-separated "
                    f"columns, found {len(fields)}: {line[:80]!r}"
                )
            rows.append(tuple(fields[:min_columns]))
    return rows


def __getattr__(name):
    if name == "load_keras_model":  # moved to `lstm_keras.saving` (this alias goes in the next release)
        import importlib
        import warnings

        warnings.warn("lstm_keras.io.load_keras_model moved to lstm_keras.saving.load_keras_model",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module("lstm_keras.saving").load_keras_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
