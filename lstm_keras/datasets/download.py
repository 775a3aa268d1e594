"""One home for getting a data file: a local copy (`data_dir`) or a hash-checked download."""

import hashlib
import os

import keras

CACHE_SUBDIR = "datasets/lstm_keras"
DATA_DIR_ENV = "LSTM_KERAS_DATA_DIR"


def sha256_of(path, chunk_size=1 << 20):
    """Returns the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(filename, origin, sha256=None, data_dir=None, extract=False):
    """Returns the local path of a data file, downloading it if needed.

    Look-up order: `data_dir` (or the `LSTM_KERAS_DATA_DIR` environment variable) if given,
    where `filename` must exist; otherwise `keras.utils.get_file`, which downloads `origin` once
    into `KERAS_HOME/datasets/lstm_keras/` and checks its SHA-256.

    Args:
        filename: the file's name (in `data_dir` and in the cache).
        origin: the official download URL.
        sha256: the expected SHA-256 hex digest, or None to skip the check.
        data_dir: a folder with local copies, or None.
        extract: whether `get_file` extracts an archive (returns the extracted folder).

    Returns:
        The path of the file (or of the extracted folder).

    Raises:
        FileNotFoundError: `data_dir` is given but has no `filename`.
        ValueError: the file (local or downloaded) does not have the expected hash; the message
            names the file and both hashes.
        DownloadError: the download failed (offline, say); the message names `--data-dir`.
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if data_dir:
        path = os.path.join(data_dir, filename)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{filename} not found in data_dir {data_dir!r} (expected {path}); "
                f"download it from {origin} or drop --data-dir"
            )
        if sha256 and os.path.isfile(path):
            check_sha256(path, sha256)
        return path
    try:
        return keras.utils.get_file(
            filename, origin, file_hash=sha256, hash_algorithm="sha256",
            cache_subdir=CACHE_SUBDIR, extract=extract,
        )
    except ValueError as error:
        raise ValueError(
            f"downloaded {filename} from {origin} is corrupted or not the expected file "
            f"(sha256 should be {sha256}): {error}"
        ) from error
    except Exception as error:  # `get_file` raises a bare Exception when the download fails (offline, say)
        raise DownloadError(
            f"could not download {filename} from {origin} ({error}). Without internet, get the file elsewhere "
            f"and give its folder with --data-dir (or the {DATA_DIR_ENV} environment variable): it must hold "
            f"{filename}"
        ) from error


def local_folder(data_dir, subfolder, filenames):
    """The folder of a data set's local copies: `data_dir` itself, or its `subfolder` (`datasets/ptb/...`).

    A folder that gathers several data sets keeps each in a sub-folder named after it (the layout of
    `../shared/datasets`), so one `--data-dir` / `LSTM_KERAS_DATA_DIR` serves every data set.
    `data_dir` (or the environment variable) is kept when it holds one of `filenames` itself, or
    when its `subfolder` holds none of them (a missing file is then reported in `data_dir`).

    Args:
        data_dir: a folder, or None (the environment variable, else None: download).
        subfolder: the data set's sub-folder name.
        filenames: the files the data set reads from its folder.

    Returns:
        The folder to read, or None.

    Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "ptb"))
    >>> open(os.path.join(root, "ptb", "ptb.train.txt"), "w").close()
    >>> local_folder(root, "ptb", ["ptb.train.txt"]) == os.path.join(root, "ptb")
    True
    >>> local_folder(root, "multi30k", ["train.de.gz"]) == root
    True
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if not data_dir:
        return None
    holding = (folder for folder in data_folders(data_dir, subfolder)
               if any(os.path.exists(os.path.join(folder, filename)) for filename in filenames))
    return next(holding, data_dir)


def data_folders(data_dir, subfolder):
    """Where a data set's local copies may be: `data_dir` itself, then its `subfolder`."""
    return [data_dir, os.path.join(data_dir, subfolder)]


class DownloadError(OSError):
    """A data file could not be downloaded (the message names the file and `--data-dir`)."""


def check_sha256(path, expected):
    """Raises ValueError naming `path` if its SHA-256 is not `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"{path} is corrupted or not the expected file: sha256 {actual}, expected {expected}"
        )
