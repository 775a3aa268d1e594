"""Text-classification data behind one entry point: IMDB, MR, Debian, the generated reviews, a TSV, a folder.

`load_classification_data` returns every data set in the same shape, a `TextClassificationData`
of Python strings and int labels, so that the vectoriser and the model never care where the
text came from:

| `dataset` | what it reads | test split |
|---|---|---|
| `"imdb"` | Large Movie Review Dataset v1.0 (Maas et al. 2011), 25,000 + 25,000 reviews | official |
| `"mr"` | sentence polarity v1.0 (Pang & Lee 2005), 5,331 + 5,331 sentences | none (use 10-fold CV) |
| `"debian"` | Debian 12's package synopses labelled with their archive section (14 topics), 11,043 short texts | none (use `test=0.1` or folds) |
| `"reviews"` | the generated corpus of `lstm_keras.datasets.reviews` (= `data/reviews.tsv`) | its last 4,000 |
| a `.tsv` path | `label<TAB>text` lines | none |
| a folder path | one sub-folder of `.txt` files per class, or `train/` and `test/` folders of those | `test/` |

Archives are read member by member, never extracted. Texts that are empty, whitespace-only or
not valid UTF-8 load anyway (invalid bytes become U+FFFD).
"""

import dataclasses
import gzip
import lzma
import numbers
import os
import re
import tarfile
import zlib

import numpy as np

from lstm_keras.datasets import reviews
from lstm_keras.datasets.download import DATA_DIR_ENV, data_folders, fetch
from lstm_keras.io import decode_text
from lstm_keras.io import read_tsv

DATASET_NAMES = ("imdb", "mr", "debian", "reviews")

IMDB_ORIGIN = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_FILENAME = "aclImdb_v1.tar.gz"
# SHA-256 of the official tarball (84,125,825 bytes) as published by TensorFlow Datasets in
# tensorflow_datasets/datasets/imdb_reviews/checksums.tsv.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
# The labelled part alone, xz-compressed (what the project's shared data folder holds).
IMDB_LABELED_FILENAME = "aclImdb_labeled.tar.xz"

MR_ORIGIN = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
MR_FILENAME = "rt-polaritydata.tar.gz"
# Not verifiable offline: Cornell publishes no checksum. (Hugging Face's `rotten_tomatoes`
# records a05befe5...409ce9 for a same-named 487,770-byte mirror, which could not be compared
# with Cornell's file.)
MR_SHA256 = None
MR_FILES = {"neg": "rt-polarity.neg", "pos": "rt-polarity.pos"}

DEBIAN_ORIGIN = "https://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz"
DEBIAN_FILENAME = "Packages.xz"
# Not fixed: the index changes with every point release of Debian 12.
DEBIAN_SHA256 = None
# The archive sections that name what a program is for (not its language or packaging).
DEBIAN_SECTIONS = (
    "admin", "database", "editors", "electronics", "fonts", "games", "graphics", "mail", "math",
    "net", "science", "sound", "text", "video",
)
# The local copies looked for, in order: what `apt-cache dumpavail > Packages` writes, then
# the compressed indexes of a Debian mirror.
_DEBIAN_FILES = ("Packages", "Packages.xz", "Packages.gz")

_IMDB_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/([^/]+\.txt)$")
_LINE_BREAK = re.compile(r"(?:\s*<br\s*/?>\s*)+", re.IGNORECASE)
# What a broken or truncated compressed tar raises while it is read.
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError)


@dataclasses.dataclass(repr=False)
class TextClassificationData:
    """Texts and int labels of a classification data set, with an optional test split.

    Args:
        train_texts: a list of strings.
        train_labels: an int32 array of indices into `label_names`, one per training text.
        test_texts: a list of strings, or None when the data set has no test split.
        test_labels: an int32 array, or None.
        label_names: the class names, in index order.

    Example:
    >>> import numpy as np
    >>> data = TextClassificationData(["fun", "dull"], np.array([1, 0]), None, None, ["neg", "pos"])
    >>> data
    TextClassificationData(train=2, test=None, label_names=['neg', 'pos'])
    >>> data.num_classes
    2
    """

    train_texts: list
    train_labels: np.ndarray
    test_texts: list | None
    test_labels: np.ndarray | None
    label_names: list

    @property
    def num_classes(self):
        return len(self.label_names)

    def __repr__(self):
        test = None if self.test_texts is None else len(self.test_texts)
        return (
            f"TextClassificationData(train={len(self.train_texts)}, test={test}, "
            f"label_names={self.label_names!r})"
        )


def load_classification_data(dataset, data_dir=None, test=None, seed=0, header=None):
    """Loads a text-classification data set by name or path.

    Names come first: `"imdb"`, `"mr"` and `"reviews"` are the named data sets even if a file of
    that name exists. Anything else must be an existing `label<TAB>text` file (any extension;
    empty lines are skipped, columns after the second are ignored, labels are stripped) or a
    folder laid out for `keras.utils.text_dataset_from_directory`: one sub-folder per class
    holding `.txt` files (searched recursively; sub-folders starting with "." are ignored), or
    `train/` and `test/` sub-folders each laid out that way.

    `imdb` is downloaded once from `IMDB_ORIGIN` into `KERAS_HOME/datasets/lstm_keras/` and
    checked against `IMDB_SHA256`; `mr` likewise from `MR_ORIGIN`. With `data_dir` (or the
    `LSTM_KERAS_DATA_DIR` environment variable) nothing is downloaded: the files are looked for in
    `data_dir` and in `data_dir/imdb` or `data_dir/mr`. `debian` reads a Debian package index
    (`Packages`, `Packages.xz` or `Packages.gz`: the output of `apt-cache dumpavail` on any Debian
    machine serves) from `data_dir` or `data_dir/debian`, else downloads `DEBIAN_ORIGIN`; its
    texts are the packages' one-line synopses, its labels the sections of `DEBIAN_SECTIONS`
    (`contrib/` and `non-free/` prefixes dropped); a synopsis given to packages of two sections
    is left out, and one given to several packages of one section is kept once. IMDB accepts `aclImdb_v1.tar.gz`
    (hash-checked), `aclImdb_labeled.tar.xz` or an extracted `aclImdb/` folder; MR accepts the two
    files `rt-polarity.pos` / `rt-polarity.neg`, a `utf8/`, `rt-polaritydata/` or
    `original_cp1252/` sub-folder holding them (UTF-8 or the original Windows-1252), or
    `rt-polaritydata.tar.gz`. IMDB's `<br />` tags become spaces.

    Label names are the folder names for folders (`["neg", "pos"]` for IMDB and MR) and the sorted
    distinct labels of a TSV (`["negative", "positive"]` for the generated reviews). The training
    examples are shuffled with `seed`, since Keras' `validation_split` takes the last examples and
    data sorted by class would leave it a single class; test examples keep their file order.

    Args:
        dataset: `"imdb"`, `"mr"`, `"debian"`, `"reviews"`, a TSV path or a folder path.
        data_dir: a folder with local copies of `imdb` / `mr` / `debian`, or None to download.
        test: None for the official test split (or none where there is none); a fraction in
            (0, 1) to hold out that share of each class of a data set without a test split; or a
            TSV / folder path whose examples become the test split.
        seed: the seed for shuffling and for the held-out split.
        header: for TSV files, whether the first line is a header; None to detect one
            (`lstm_keras.io.read_tsv`).

    Returns:
        A `TextClassificationData`.

    Raises:
        ValueError: an unknown name (the message lists the allowed ones), a TSV line with a
            missing or empty label or too few columns (file and line number), a training set
            with fewer than two classes, a test label unknown to the training set, an invalid
            `test`, or an archive that is corrupted or has the wrong SHA-256 (the message names
            the file).
        FileNotFoundError: `data_dir` lacks the data set's files (the message lists what was
            looked for), or `test` is a path that does not exist.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tsv")
    >>> _ = open(path, "w").write("positive\\tgreat fun\\nnegative\\ttoo long\\npositive\\tloved it\\n")
    >>> data = load_classification_data(path)
    >>> data.label_names, sorted(data.train_labels.tolist()), data.test_texts
    (['negative', 'positive'], [0, 1, 1], None)
    """
    train, official_test, label_names, source = _read_dataset(dataset, data_dir, header)
    if not train:
        raise ValueError(f"{source}: no examples found")

    _check_classes(train, source)
    test_split = official_test
    if test is not None:
        if official_test is not None:
            raise ValueError(
                f"{source} has an official test split: pass test=None, received test={test!r}"
            )
        if isinstance(test, numbers.Real) and not isinstance(test, bool):
            if not 0 < test < 1:
                raise ValueError(f"test must be a fraction in (0, 1) or a path, received test={test!r}")
            train, test_split = _hold_out(train, float(test), seed)
        elif isinstance(test, (str, os.PathLike)):
            if not os.path.exists(test):
                raise FileNotFoundError(f"test file or folder not found: {os.fspath(test)}")
            test_split, _, _, _ = _read_path(test, header)
        else:
            raise ValueError(
                f"test must be None, a fraction in (0, 1) or an existing TSV file or folder, "
                f"received test={test!r}"
            )

    if label_names is None:
        label_names = sorted({label for _, label in train})
    index = {name: i for i, name in enumerate(label_names)}
    if test_split is not None:
        unknown = sorted({label for _, label in test_split} - set(index))
        if unknown:
            raise ValueError(
                f"{test if test is not None else source}: test labels {unknown} do not occur in "
                f"the training labels {label_names}"
            )

    order = np.random.default_rng(seed).permutation(len(train))
    train = [train[i] for i in order]
    return TextClassificationData(
        train_texts=[text for text, _ in train],
        train_labels=np.array([index[label] for _, label in train], dtype="int32"),
        test_texts=None if test_split is None else [text for text, _ in test_split],
        test_labels=(
            None if test_split is None
            else np.array([index[label] for _, label in test_split], dtype="int32")
        ),
        label_names=list(label_names),
    )


def kfold_indices(n, k, seed=0, labels=None):
    """Splits `range(n)` into `k` cross-validation folds, deterministically from `seed`.

    Every index is in exactly one test fold; fold sizes differ by at most one. With `labels`,
    the folds are stratified: each class is spread over the folds as evenly as possible.

    Args:
        n: the number of examples.
        k: the number of folds, at least 2 and at most `n`.
        seed: the random seed.
        labels: optional, `n` class labels to stratify by.

    Returns:
        A list of `k` pairs `(train_indices, test_indices)` of sorted int arrays.

    Example:
    >>> folds = kfold_indices(10, 5, seed=0)
    >>> [len(test) for _, test in folds]
    [2, 2, 2, 2, 2]
    >>> sorted(int(i) for _, test in folds for i in test) == list(range(10))
    True
    """
    if not isinstance(k, numbers.Integral) or k < 2:
        raise ValueError(f"kfold_indices: k must be an integer >= 2, received k={k!r}")
    if not isinstance(n, numbers.Integral) or n < k:
        raise ValueError(f"kfold_indices: n must be an integer >= k={k}, received n={n!r}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"kfold_indices: expected {n} labels, received shape {labels.shape}")
        # Each class shuffled, the classes one after the other, then dealt out like cards.
        order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    test_folds = [np.sort(order[i::k]) for i in range(k)]
    return [
        (np.sort(np.concatenate(test_folds[:i] + test_folds[i + 1:])), test_folds[i])
        for i in range(k)
    ]


# Reading: every reader returns (train, test, label_names, source) where train and test are lists
# of (text, label_name) pairs (test None without a split) and label_names is None when it is to be
# taken from the training labels.


def _read_dataset(dataset, data_dir, header=None):
    if isinstance(dataset, str) and dataset in DATASET_NAMES:
        data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
        if dataset == "imdb":
            return _read_imdb(data_dir)
        if dataset == "mr":
            return _read_mr(data_dir)
        if dataset == "debian":
            return _read_debian(data_dir)
        return _read_reviews()
    if isinstance(dataset, (str, os.PathLike)) and os.path.exists(dataset):
        return _read_path(dataset, header)
    raise ValueError(
        f"unknown dataset {dataset!r}: expected one of {list(DATASET_NAMES)}, or the path of an "
        f"existing label<TAB>text file or of a folder with one sub-folder per class"
    )


def _read_path(path, header=None):
    path = os.fspath(path)
    if os.path.isdir(path):
        return _read_folder(path)
    return _read_tsv(path, header), None, None, path


def read_unlabeled_texts(path):
    """Texts without labels (`classify train --unlabeled`): a file, one text a line, or a folder of `.txt` files.

    A folder's `.txt` files (sub-folders included, in sorted order) are one text each. Blank
    lines and files are skipped; bytes that are not UTF-8 become U+FFFD (with a warning).

    Raises:
        FileNotFoundError: nothing at `path` (the message names `--unlabeled`).
        ValueError: no text there.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"--unlabeled {path}: no such file or folder")
    if os.path.isdir(path):
        texts = []
        for folder, subfolders, files in os.walk(path, followlinks=True):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for filename in sorted(f for f in files if f.lower().endswith(".txt")):
                with open(os.path.join(folder, filename), "rb") as f:
                    texts.append(decode_text(f.read(), os.path.join(folder, filename)))
    else:
        with open(path, "rb") as f:
            texts = decode_text(f.read(), path).splitlines()
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise ValueError(f"--unlabeled {path} holds no text (expected one text a line, or a folder of .txt files)")
    return texts


def _read_tsv(path, header=None):
    """`(text, label)` pairs of a `label<TAB>text` file (`header`: as `read_tsv`'s)."""
    examples = []
    for number, (label, text) in read_tsv(path, min_columns=2, header=header, line_numbers=True):
        label = label.strip()
        if not label:
            raise ValueError(f"{path}, line {number}: missing or empty label (expected label<TAB>text)")
        examples.append((text, label))
    return examples


def _read_folder(path):
    train_dir, test_dir = os.path.join(path, "train"), os.path.join(path, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        train, label_names = _read_class_folders(train_dir)
        test, _ = _read_class_folders(test_dir)
        return train, test, label_names, path
    train, label_names = _read_class_folders(path)
    return train, None, label_names, path


def _read_class_folders(root):
    """`(text, class)` pairs of `root/<class>/**/*.txt`, and the sorted class names."""
    class_names = sorted(
        name for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name)) and not name.startswith(".")
    )
    if not class_names:
        raise ValueError(
            f"{root} has no sub-folders: expected one sub-folder of .txt files per class "
            f"(the keras.utils.text_dataset_from_directory layout)"
        )
    examples = []
    for name in class_names:
        for folder, subfolders, files in os.walk(os.path.join(root, name), followlinks=True):
            # Sorting in place makes the walk itself visit sub-folders in sorted order.
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for filename in sorted(files):
                if filename.lower().endswith(".txt"):
                    path = os.path.join(folder, filename)
                    with open(path, "rb") as f:
                        examples.append((decode_text(f.read(), path), name))
    return examples, class_names


def _read_reviews():
    rows = reviews.generate_reviews(reviews.DEFAULT_SIZE, reviews.DEFAULT_SEED)
    examples = [(text, label) for label, text in rows]
    split = len(examples) - reviews.TEST_SIZE
    return examples[:split], examples[split:], list(reviews.LABEL_NAMES), "reviews"


def _read_imdb(data_dir):
    if data_dir is None:
        return _read_imdb_archive(fetch(IMDB_FILENAME, IMDB_ORIGIN, sha256=IMDB_SHA256))
    looked_for = []
    for folder in data_folders(data_dir, "imdb"):
        if os.path.isfile(os.path.join(folder, IMDB_FILENAME)):
            return _read_imdb_archive(fetch(IMDB_FILENAME, IMDB_ORIGIN, IMDB_SHA256, data_dir=folder))
        if os.path.isfile(os.path.join(folder, IMDB_LABELED_FILENAME)):
            return _read_imdb_archive(os.path.join(folder, IMDB_LABELED_FILENAME))
        for extracted in (os.path.join(folder, "aclImdb"), folder):
            if os.path.isdir(os.path.join(extracted, "train", "pos")):
                train = _read_imdb_split(os.path.join(extracted, "train"))
                test = _read_imdb_split(os.path.join(extracted, "test"))
                return train, test, ["neg", "pos"], extracted
        looked_for += [os.path.join(folder, f) for f in (IMDB_FILENAME, IMDB_LABELED_FILENAME, "aclImdb/train/pos/")]
    raise FileNotFoundError(
        f"IMDB not found in data_dir {data_dir!r}: looked for {looked_for}; download "
        f"{IMDB_ORIGIN} or drop data_dir"
    )


def _read_imdb_split(split_dir):
    """`(text, label)` pairs of an extracted `aclImdb/<split>/{neg,pos}` (unsup/ is skipped)."""
    examples = []
    for label in ("neg", "pos"):
        folder = os.path.join(split_dir, label)
        for filename in sorted(os.listdir(folder)):
            if filename.endswith(".txt"):
                with open(os.path.join(folder, filename), "rb") as f:
                    examples.append((_clean_imdb(f.read()), label))
    return examples


def _read_imdb_archive(path):
    """Streams the labelled reviews out of an aclImdb tarball (gzip or xz) without extracting it."""
    found = []  # (split, label, filename, text)
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                match = _IMDB_MEMBER.match(member.name)
                if match and member.isfile():
                    found.append((*match.groups(), _clean_imdb(tar.extractfile(member).read())))
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{path} is corrupted or not a tar archive: {error}") from error
    if not found:
        raise ValueError(f"{path} holds no aclImdb/{{train,test}}/{{neg,pos}}/*.txt reviews")
    # Sorted like the extracted folders, so that every copy gives the same order.
    found.sort(key=lambda item: item[:3])
    train = [(text, label) for split, label, _, text in found if split == "train"]
    test = [(text, label) for split, label, _, text in found if split == "test"]
    return train, test, ["neg", "pos"], path


def _clean_imdb(raw):
    return _LINE_BREAK.sub(" ", raw.decode("utf-8", errors="replace"))


def _read_mr(data_dir):
    if data_dir is None:
        return _read_mr_archive(fetch(MR_FILENAME, MR_ORIGIN, sha256=MR_SHA256))
    looked_for = []
    for base in data_folders(data_dir, "mr"):
        for folder in (base, *(os.path.join(base, d) for d in ("utf8", "rt-polaritydata", "original_cp1252"))):
            paths = {label: os.path.join(folder, filename) for label, filename in MR_FILES.items()}
            if all(os.path.isfile(p) for p in paths.values()):
                examples = []
                for label, p in paths.items():
                    with open(p, "rb") as f:
                        examples += [(line, label) for line in _mr_lines(f.read())]
                return examples, None, ["neg", "pos"], folder
            looked_for.append(os.path.join(folder, "rt-polarity.{pos,neg}"))
        if os.path.isfile(os.path.join(base, MR_FILENAME)):
            return _read_mr_archive(fetch(MR_FILENAME, MR_ORIGIN, MR_SHA256, data_dir=base))
        looked_for.append(os.path.join(base, MR_FILENAME))
    raise FileNotFoundError(
        f"MR not found in data_dir {data_dir!r}: looked for {looked_for}; download "
        f"{MR_ORIGIN} or drop data_dir"
    )


def _read_debian(data_dir):
    if data_dir is None:
        return _read_debian_index(fetch(DEBIAN_FILENAME, DEBIAN_ORIGIN, sha256=DEBIAN_SHA256))
    looked_for = []
    for folder in data_folders(data_dir, "debian"):
        for filename in _DEBIAN_FILES:
            path = os.path.join(folder, filename)
            if os.path.isfile(path):
                return _read_debian_index(path)
            looked_for.append(path)
    raise FileNotFoundError(
        f"the Debian package index was not found in data_dir {data_dir!r}: looked for "
        f"{looked_for}; write one with `apt-cache dumpavail > Packages`, download "
        f"{DEBIAN_ORIGIN} or drop data_dir"
    )


def _read_debian_index(path):
    """`(synopsis, section)` pairs of a Debian `Packages` index, plain or compressed."""
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(os.path.splitext(path)[1], open)
    try:
        with opener(path, "rb") as f:
            text = decode_text(f.read(), path)
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{path} is corrupted: {error}") from error
    sections = {}  # synopsis -> the sections of the packages that give it
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(":", 1) for line in stanza.splitlines()
            if line and not line[0].isspace() and ":" in line
        )
        section = fields.get("Section", "").strip().rsplit("/", 1)[-1]
        synopsis = fields.get("Description", "").strip()
        if section in DEBIAN_SECTIONS and synopsis:
            sections.setdefault(synopsis, set()).add(section)
    if not sections:
        raise ValueError(f"{path} holds no package of the sections {list(DEBIAN_SECTIONS)}")
    # Sorted, so that every copy of the index (whatever its package order) gives the same data.
    examples = sorted((synopsis, found.pop()) for synopsis, found in sections.items() if len(found) == 1)
    return examples, None, None, path


def _read_mr_archive(path):
    contents = {}
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                filename = os.path.basename(member.name)
                if member.isfile() and filename in MR_FILES.values():
                    contents[filename] = tar.extractfile(member).read()
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{path} is corrupted or not a tar archive: {error}") from error
    missing = sorted(set(MR_FILES.values()) - set(contents))
    if missing:
        raise ValueError(f"{path} does not contain {missing}")
    examples = [(line, label) for label, name in MR_FILES.items() for line in _mr_lines(contents[name])]
    return examples, None, ["neg", "pos"], path


def _mr_lines(raw):
    """The stripped lines of an MR file: UTF-8 if it decodes strictly, else Windows-1252."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    lines = text.split("\n")
    if lines and not lines[-1].strip():
        lines.pop()
    return [line.strip() for line in lines]


# Splitting and checks.


def _check_classes(examples, source):
    classes = sorted({label for _, label in examples})
    if len(classes) < 2:
        raise ValueError(
            f"{source}: the training set has a single class {classes}; a classifier needs at "
            f"least two"
        )


def _hold_out(examples, fraction, seed):
    """Splits off `fraction` of each class (at least one example stays in training)."""
    rng = np.random.default_rng(seed)
    labels = np.array([label for _, label in examples])
    held = []
    for label in sorted(set(labels.tolist())):
        indices = rng.permutation(np.flatnonzero(labels == label))
        count = min(int(round(fraction * len(indices))), len(indices) - 1)
        held.extend(indices[:count].tolist())
    held_set = set(held)
    train = [example for i, example in enumerate(examples) if i not in held_set]
    test = [examples[i] for i in sorted(held)]
    return train, test
