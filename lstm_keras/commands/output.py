"""What a `train` command may do to its `--out` folder: refuse a foreign folder, lock it, replace only its own files.

`--out` is either a new (or empty) folder or one that holds an earlier output of lstm-keras,
recognised by its marker (`lstm_keras.saving.MARKER_FILE`, which lists the files the run wrote).
Anything else is refused unless `--overwrite`, and even then only lstm-keras's files are replaced:
the user's other files stay. `--out` may not be `.`, a folder holding the current directory, or a
folder equal to, inside or holding the data. A lock file (`OUT/.lock`, with the process id and
host) stops a second run on the same `--out`; the lock of a process that is no longer running on
this host is taken over with a message.
"""

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time

from lstm_keras.io import replace_path
from lstm_keras.io import write_text
from lstm_keras.saving import MARKER_FILE
from lstm_keras.saving import read_marker

LOCK_FILE = ".lock"
# The arguments that name data: `--out` may not be, hold or sit inside any of them.
DATA_ARGUMENTS = ("dataset", "data_dir", "valid", "test", "embeddings", "stop_words")


def check_out(args, staging):
    """Raises ValueError if `args.out` is not a folder a `train` run may write (see the module docstring).

    Args:
        args: the parsed arguments: `out`, the data arguments it has, and `overwrite` if offered.
        staging: the name of the staging folder inside `--out` (not a foreign file).
    """
    out = os.path.realpath(args.out)
    here = os.path.realpath(os.getcwd())
    if _inside(here, out):
        raise ValueError(f"--out {args.out} is the current folder or holds it: give a new folder for the results")
    for name in DATA_ARGUMENTS:
        value = getattr(args, name, None)
        if not isinstance(value, str) or not os.path.exists(value):
            continue
        data = os.path.realpath(value)
        if _inside(data, out) or _inside(out, data):
            raise ValueError(f"--out {args.out} holds or is inside the data (--{name.replace('_', '-')} {value}): "
                             "give a folder of its own for the results")
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ValueError(f"--out {args.out} is a file, not a folder")
    _, foreign = _own_and_foreign(out, staging)
    foreign = sorted(foreign)
    if foreign and not getattr(args, "overwrite", False):
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ValueError(
            f"--out {args.out} holds files that lstm-keras did not write ({shown}): give a new folder, or "
            "--overwrite to write the results beside them (only lstm-keras's own files are replaced)"
        )


@contextlib.contextmanager
def out_lock(out, log):
    """Holds `OUT/.lock` for the block; refuses if a running process holds it, takes over a dead one's.

    Args:
        out: the output folder (created if missing).
        log: `log(message)` for the take-over message.

    Raises:
        ValueError: another process that is still running holds the lock (the message names it).
    """
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, LOCK_FILE)
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(mine)
    except FileExistsError:
        holder = _lock_holder(path)
        if holder is not None and _is_running(holder):
            raise ValueError(
                f"another run (process {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}) "
                f"is writing --out {out}: wait for it to end, or delete {path} if it no longer runs"
            ) from None
        log(f"took over the lock of a run that no longer runs ({path})")
        write_text(path, mine)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            with open(path, encoding="utf-8") as f:
                if f.read() == mine:
                    os.remove(path)


def install(staging, out, command):
    """Moves a finished staging folder's files into `out`, replacing only what lstm-keras wrote there.

    The staged files are listed in the marker (`write_marker`). When `out` holds nothing else than
    an earlier lstm-keras output, the staging folder replaces it in one rename; otherwise each
    staged file or folder replaces its namesake and the earlier run's files that this run did not
    write again are removed, the user's other files staying as they were.
    """
    from lstm_keras.saving import write_marker

    files = sorted(os.listdir(staging))
    write_marker(staging, command, files)
    own, foreign = _own_and_foreign(out, os.path.basename(staging))
    parent = os.path.dirname(os.path.abspath(out))
    if not foreign:
        finished = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.", suffix=".done", dir=parent)
        os.rename(staging, os.path.join(finished, "out"))  # out of --out, which it replaces
        replace_path(os.path.join(finished, "out"), out)
        shutil.rmtree(finished, ignore_errors=True)
        return
    for name in sorted(own - set(files)):
        path = os.path.join(out, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    for name in files + [MARKER_FILE]:
        replace_path(os.path.join(staging, name), os.path.join(out, name))
    shutil.rmtree(staging)


def _own_and_foreign(out, staging):
    """The names in `out` that an earlier lstm-keras run wrote (its marker lists them), and the others.

    The staging folder `staging`, the lock and the marker itself are neither.
    """
    marker = read_marker(out)
    own = set(marker["files"]) if marker else set()
    return own, set(os.listdir(out)) - own - {staging, LOCK_FILE, MARKER_FILE}


def _inside(path, folder):
    """Whether `path` is `folder` or inside it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _lock_holder(path):
    """The lock's `{"pid", "host", "started"}`, or None if it cannot be read (a crash while writing it)."""
    for _ in range(3):  # a lock being written right now: read again
        with contextlib.suppress(OSError, ValueError):
            with open(path, encoding="utf-8") as f:
                holder = json.load(f)
            if isinstance(holder, dict):
                return holder
        time.sleep(0.1)
    return None


def _is_running(holder):
    """Whether the lock's process still runs (always assumed for a process of another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except PermissionError:  # running, as another user
        return True
    except (ProcessLookupError, KeyError, TypeError, ValueError):
        return False
    return True


def data_fingerprint(args):
    """Sizes and modification times of the data the arguments name: a resumed run checks the data did not change."""
    fingerprint = {}
    for name in DATA_ARGUMENTS:
        value = getattr(args, name, None)
        if not isinstance(value, str) or not os.path.exists(value):
            continue
        paths = [value] if os.path.isfile(value) else sorted(
            os.path.join(root, file) for root, _, files in os.walk(value) for file in files)
        stats = [os.stat(path) for path in paths]
        newest = max((st.st_mtime_ns for st in stats), default=0)
        fingerprint[name] = [len(stats), sum(st.st_size for st in stats), newest]
    return fingerprint
