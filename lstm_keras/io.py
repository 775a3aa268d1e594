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
import warnings

from lstm_keras._deprecation import moved_attribute


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


# First-row fields that make it a header, not data (`read_tsv`'s `header=None`).
HEADER_WORDS = frozenset({
    "label", "labels", "class", "category", "sentiment", "polarity", "target", "tgt", "text", "texts", "sentence",
    "sentences", "review", "document", "source", "src", "input", "output", "translation", "reference", "id",
    "en", "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja", "english", "german", "french", "spanish",
})


class NotUTF8Warning(UserWarning):
    """A text file has bytes that are not UTF-8 (they became U+FFFD)."""


def decode_text(raw, path):
    """The text of a file's bytes as UTF-8, a leading byte-order mark removed.

    Bytes that are not UTF-8 become U+FFFD, with a `NotUTF8Warning` naming the file, how many
    lines have them and the first one: a Latin-1 file is read, but not silently.

    Example:
    >>> decode_text(b"\\xef\\xbb\\xbfevery word", "notes.txt")
    'every word'
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        first = raw.count(b"\n", 0, error.start) + 1
    lines = raw.split(b"\n")
    bad = sum(1 for line in lines if _not_utf8(line))
    warnings.warn(
        f"{path}: {bad} line{'s' if bad > 1 else ''} not UTF-8 (the first: line {first}); their invalid bytes became "
        f"U+FFFD. Convert the file to UTF-8 to keep them, e.g. `iconv -f latin1 -t utf-8 {os.path.basename(path)}`",
        NotUTF8Warning, stacklevel=2,
    )
    return raw.decode("utf-8", errors="replace")


def _not_utf8(line):
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def read_tsv(path, min_columns, header=None, line_numbers=False):
    """Reads a tab-separated UTF-8 file into rows of `min_columns` fields (extra columns ignored).

    A byte-order mark is removed, Windows line ends are accepted, blank lines are skipped, bytes
    that are not UTF-8 are replaced with a warning (`decode_text`).

    Args:
        path: the file.
        min_columns: the number of leading columns each non-empty line must have.
        header: whether the first line is a header (skipped); None to detect it: a first line
            whose fields are all column names (`HEADER_WORDS`: "label", "text", "source", ...).
        line_numbers: whether to return each row with its 1-based line number.

    Returns:
        A list of tuples of `min_columns` strings, one per non-empty line (or of
        `(line_number, row)` pairs).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: a line has fewer than `min_columns` columns (the message names the file and
            the line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TSV file not found: {path}")
    with open(path, "rb") as f:
        text = decode_text(f.read(), path)
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < min_columns:
            raise ValueError(
                f"{path}, line {number}: expected at least {min_columns} tab-separated "
                f"columns, found {len(fields)}: {line[:80]!r}"
            )
        rows.append((number, tuple(fields[:min_columns])))
    if rows and (header or header is None and all(field.strip().lower() in HEADER_WORDS for field in rows[0][1])):
        rows = rows[1:]
    return rows if line_numbers else [row for _, row in rows]


def __getattr__(name):
    # `load_keras_model` moved to `lstm_keras.saving` (this alias goes in the next release).
    return moved_attribute(__name__, {"load_keras_model": "lstm_keras.saving"}, name)
