"""Tests of `lstm_keras.datasets.classification`: TSV, folder, IMDB, MR and Debian loaders, splits, errors.

IMDB and MR are tested twice: on tiny archives and folders made in `tmp_path` (always), and on the
shared local copies in `../shared/datasets` (skipped when that folder is absent).
"""

import gzip
import io
import lzma
import os
import tarfile

import numpy as np
import pytest

from lstm_keras.datasets.classification import (
    DATASET_NAMES,
    TextClassificationData,
    kfold_indices,
    load_classification_data,
)
from lstm_keras.datasets.download import DATA_DIR_ENV

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets")
SHARED = os.path.abspath(os.environ.get("LSTM_KERAS_SHARED_DATASETS", SHARED))
SHARED_MR = os.path.join(SHARED, "mr")
SHARED_IMDB = os.path.join(SHARED, "imdb")


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    """A developer's LSTM_KERAS_DATA_DIR must not change what these tests read."""
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


# TSV files.


def test_tsv_loads_labels_as_sorted_indices(tmp_path):
    path = write_bytes(
        tmp_path / "small.tsv",
        b"positive\tgreat fun\n\nnegative\ttoo long\r\n  positive \tloved it\textra column\n",
    )
    data = load_classification_data(path)
    assert isinstance(data, TextClassificationData)
    assert data.label_names == ["negative", "positive"]
    assert data.num_classes == 2
    assert data.test_texts is None and data.test_labels is None
    assert data.train_labels.dtype == np.int32
    pairs = sorted(zip(data.train_texts, data.train_labels.tolist()))
    assert pairs == [("great fun", 1), ("loved it", 1), ("too long", 0)]


def test_tsv_odd_texts_load(tmp_path):
    # Empty text, whitespace-only text, invalid UTF-8 and a byte-order mark all load.
    path = write_bytes(
        tmp_path / "odd.tsv",
        b"\xef\xbb\xbfpos\tfine\npos\t\nneg\t   \nneg\tbad \xff\xfe bytes\n",
    )
    data = load_classification_data(path)
    assert data.label_names == ["neg", "pos"]
    texts = dict(zip(data.train_texts, data.train_labels.tolist()))
    assert texts[""] == 1 and texts["   "] == 0 and texts["fine"] == 1
    assert "bad \ufffd\ufffd bytes" in texts


def test_training_examples_are_shuffled_deterministically(tmp_path):
    lines = "".join(f"{'ab'[i % 2]}\ttext {i}\n" for i in range(50))
    path = write_bytes(tmp_path / "many.tsv", lines.encode())
    first = load_classification_data(path, seed=3)
    again = load_classification_data(path, seed=3)
    other = load_classification_data(path, seed=4)
    assert first.train_texts == again.train_texts
    assert first.train_texts != other.train_texts
    assert sorted(first.train_texts) == sorted(other.train_texts)
    assert first.train_texts != [f"text {i}" for i in range(50)]


@pytest.mark.parametrize(
    "content, line, message",
    [
        (b"pos\tgood\n\n\tno label here\n", 3, "missing or empty label"),
        (b"pos\tgood\n   \tblank label\n", 2, "missing or empty label"),
        (b"pos\tgood\nneg\tbad\njust text without a tab\n", 3, "expected at least 2"),
    ],
)
def test_tsv_errors_name_file_and_line(tmp_path, content, line, message):
    path = write_bytes(tmp_path / "broken.tsv", content)
    with pytest.raises(ValueError) as error:
        load_classification_data(path)
    assert f"{path}, line {line}" in str(error.value)
    assert message in str(error.value)


def test_single_class_training_set_is_an_error(tmp_path):
    path = write_bytes(tmp_path / "one.tsv", b"pos\tgood\npos\tgreat\n")
    with pytest.raises(ValueError, match=r"one\.tsv: the training set has a single class \['pos'\]"):
        load_classification_data(path)


def test_empty_tsv_is_an_error(tmp_path):
    path = write_bytes(tmp_path / "empty.tsv", b"\n\n")
    with pytest.raises(ValueError, match="empty.tsv: no examples found"):
        load_classification_data(path)


def test_unknown_dataset_lists_the_allowed_names(tmp_path):
    with pytest.raises(ValueError) as error:
        load_classification_data("sst2")
    assert "unknown dataset 'sst2'" in str(error.value)
    for name in DATASET_NAMES:
        assert repr(name) in str(error.value)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_classification_data(str(tmp_path / "missing.tsv"))


# The `test` argument.


def test_fraction_holds_out_each_class_deterministically(tmp_path):
    lines = "".join(f"{'a' if i < 40 else 'b'}\ttext {i}\n" for i in range(60))
    path = write_bytes(tmp_path / "split.tsv", lines.encode())
    data = load_classification_data(path, test=0.25, seed=1)
    assert len(data.train_texts) == 45 and len(data.test_texts) == 15
    assert np.bincount(data.test_labels).tolist() == [10, 5]  # stratified: 25% of 40 and of 20
    assert set(data.train_texts).isdisjoint(data.test_texts)
    assert sorted(data.train_texts + data.test_texts) == sorted(f"text {i}" for i in range(60))
    assert load_classification_data(path, test=0.25, seed=1).test_texts == data.test_texts
    assert load_classification_data(path, test=0.25, seed=2).test_texts != data.test_texts


def test_test_path_uses_the_training_label_names(tmp_path):
    train = write_bytes(tmp_path / "train.tsv", b"neg\tbad\npos\tgood\nneg\tdull\n")
    test = write_bytes(tmp_path / "test.tsv", b"pos\tfine\nneg\tawful\n")
    data = load_classification_data(train, test=test)
    assert data.test_texts == ["fine", "awful"]
    assert data.test_labels.tolist() == [1, 0]

    unknown = write_bytes(tmp_path / "unknown.tsv", b"neutral\tmeh\n")
    with pytest.raises(ValueError, match=r"unknown\.tsv: test labels \['neutral'\] do not occur"):
        load_classification_data(train, test=unknown)
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_classification_data(train, test=str(tmp_path / "nope.tsv"))


@pytest.mark.parametrize("test", [0.0, 1.0, 1.5, -0.1, True, [0.2]])
def test_invalid_test_argument(tmp_path, test):
    train = write_bytes(tmp_path / "train.tsv", b"neg\tbad\npos\tgood\n")
    with pytest.raises(ValueError, match="test must be"):
        load_classification_data(train, test=test)


# Folders of one sub-folder per class.


def make_class_folders(root, files):
    for relative, content in files.items():
        write_bytes(os.path.join(root, relative), content)
    return str(root)


def test_folder_reads_txt_files_of_each_class(tmp_path):
    root = make_class_folders(tmp_path / "corpus", {
        "pos/a.txt": b"a fine film",
        "pos/deeper/b.TXT": b"nested files count",
        "pos/notes.md": b"not a .txt file",
        "neg/c.txt": b"broken \xc3\x28 utf-8",
        "neg/d.txt": b"",
        "sport/.keep": b"",
        ".ipynb_checkpoints/e.txt": b"ignored",
        "top.txt": b"files outside class folders are ignored",
    })
    data = load_classification_data(root)
    assert data.label_names == ["neg", "pos", "sport"]  # an empty class folder is still a class
    pairs = sorted(zip(data.train_texts, data.train_labels.tolist()))
    assert pairs == [("", 0), ("a fine film", 1), ("broken \ufffd( utf-8", 0), ("nested files count", 1)]
    assert data.test_texts is None


def test_folder_with_train_and_test(tmp_path):
    root = make_class_folders(tmp_path / "split", {
        "train/neg/1.txt": b"bad", "train/pos/2.txt": b"good", "train/pos/3.txt": b"great",
        "test/neg/4.txt": b"awful", "test/pos/5.txt": b"fine",
    })
    data = load_classification_data(root)
    assert data.label_names == ["neg", "pos"]
    assert sorted(data.train_texts) == ["bad", "good", "great"]
    assert data.test_texts == ["awful", "fine"] and data.test_labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="has an official test split"):
        load_classification_data(root, test=0.5)


def test_folder_errors(tmp_path):
    flat = make_class_folders(tmp_path / "flat", {"a.txt": b"no class folders"})
    with pytest.raises(ValueError, match="flat has no sub-folders"):
        load_classification_data(flat)
    one = make_class_folders(tmp_path / "one", {"pos/a.txt": b"x", "neg/.keep": b""})
    with pytest.raises(ValueError, match=r"one: the training set has a single class \['pos'\]"):
        load_classification_data(one)


# Cross-validation folds.


def test_kfold_partitions_deterministically():
    folds = kfold_indices(23, 5, seed=7)
    assert len(folds) == 5
    tests = [test for _, test in folds]
    assert sorted(len(t) for t in tests) == [4, 4, 5, 5, 5]
    assert sorted(np.concatenate(tests).tolist()) == list(range(23))
    for train, test in folds:
        assert set(train.tolist()) | set(test.tolist()) == set(range(23))
        assert set(train.tolist()).isdisjoint(test.tolist())
    again = kfold_indices(23, 5, seed=7)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, again))
    other = kfold_indices(23, 5, seed=8)
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, other))


def test_kfold_stratified_spreads_each_class():
    labels = np.array([0] * 30 + [1] * 10 + [2] * 3)
    for _, test in kfold_indices(len(labels), 10, seed=0, labels=labels):
        counts = np.bincount(labels[test], minlength=3)
        assert counts[0] == 3 and counts[1] == 1 and counts[2] <= 1


@pytest.mark.parametrize("n, k, labels, message", [
    (10, 1, None, "k must be an integer >= 2"),
    (3, 5, None, "n must be an integer >= k=5"),
    (10, 2, [0, 1], "expected 10 labels"),
])
def test_kfold_errors(n, k, labels, message):
    with pytest.raises(ValueError, match=message):
        kfold_indices(n, k, seed=0, labels=labels)


# IMDB on tiny archives.

TINY_IMDB = {
    "aclImdb/README": b"readme",
    "aclImdb/imdb.vocab": b"the\n",
    "aclImdb/train/labeledBow.feat": b"0 0:1\n",
    "aclImdb/train/urls_pos.txt": b"http://example.com\n",
    "aclImdb/train/pos/0_9.txt": b"Great.<br /><br />Really great.",
    "aclImdb/train/pos/1_8.txt": b"Fine <BR/>film",
    "aclImdb/train/neg/2_1.txt": b"Dull \xff film",
    "aclImdb/train/unsup/3_0.txt": b"unlabelled: skipped",
    "aclImdb/test/pos/4_10.txt": b"Superb",
    "aclImdb/test/neg/5_2.txt": b"Awful",
    "aclImdb/test/neg/6_3.txt": b"",
}


def make_tar(path, files, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return str(path)


def check_tiny_imdb(data):
    assert data.label_names == ["neg", "pos"]
    assert sorted(zip(data.train_texts, data.train_labels.tolist())) == [
        ("Dull \ufffd film", 0), ("Fine film", 1), ("Great. Really great.", 1),
    ]
    assert data.test_texts == ["Awful", "", "Superb"] and data.test_labels.tolist() == [0, 0, 1]


@pytest.mark.parametrize("mode", ["w:xz", "w:gz"])  # the compression is detected from the content
def test_imdb_from_archive_in_data_dir(tmp_path, mode):
    make_tar(tmp_path / "imdb" / "aclImdb_labeled.tar.xz", TINY_IMDB, mode)
    check_tiny_imdb(load_classification_data("imdb", data_dir=str(tmp_path / "imdb")))
    # The parent folder works too (data_dir/imdb/).
    check_tiny_imdb(load_classification_data("imdb", data_dir=str(tmp_path)))


def test_imdb_data_dir_from_environment(tmp_path, monkeypatch):
    make_tar(tmp_path / "aclImdb_labeled.tar.xz", TINY_IMDB, "w:xz")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    check_tiny_imdb(load_classification_data("imdb"))


def test_imdb_from_extracted_folder(tmp_path):
    for name, content in TINY_IMDB.items():
        write_bytes(tmp_path / name, content)
    check_tiny_imdb(load_classification_data("imdb", data_dir=str(tmp_path)))
    check_tiny_imdb(load_classification_data("imdb", data_dir=str(tmp_path / "aclImdb")))


def test_imdb_official_tarball_with_wrong_hash(tmp_path):
    path = make_tar(tmp_path / "aclImdb_v1.tar.gz", TINY_IMDB, "w:gz")
    with pytest.raises(ValueError) as error:
        load_classification_data("imdb", data_dir=str(tmp_path))
    assert path in str(error.value) and "sha256" in str(error.value)


@pytest.mark.parametrize("corrupt", ["junk", "truncated"])
def test_imdb_corrupted_archive(tmp_path, corrupt):
    path = make_tar(tmp_path / "aclImdb_labeled.tar.xz", TINY_IMDB, "w:xz")
    data = open(path, "rb").read()
    write_bytes(path, b"not an archive at all" * 10 if corrupt == "junk" else data[: len(data) // 2])
    with pytest.raises(ValueError, match="aclImdb_labeled.tar.xz is corrupted or not a tar archive"):
        load_classification_data("imdb", data_dir=str(tmp_path))


def test_imdb_archive_without_reviews(tmp_path):
    make_tar(tmp_path / "aclImdb_labeled.tar.xz", {"other/file.txt": b"x"}, "w:xz")
    with pytest.raises(ValueError, match="holds no aclImdb"):
        load_classification_data("imdb", data_dir=str(tmp_path))


def test_imdb_missing_in_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_classification_data("imdb", data_dir=str(tmp_path))
    assert "aclImdb_v1.tar.gz" in str(error.value) and "aclImdb_labeled.tar.xz" in str(error.value)


# MR on tiny files.

MR_POS = "a charming , witty film \u2014 really . \nthe clich\u00e9s work \n"
MR_NEG = "simplistic , silly and tedious . \n\u201cdull\u201d \n"


def check_tiny_mr(data):
    assert data.label_names == ["neg", "pos"] and data.test_texts is None
    assert sorted(zip(data.train_texts, data.train_labels.tolist())) == sorted([
        ("a charming , witty film \u2014 really .", 1), ("the clich\u00e9s work", 1),
        ("simplistic , silly and tedious .", 0), ("\u201cdull\u201d", 0),
    ])


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_mr_in_either_encoding(tmp_path, encoding):
    write_bytes(tmp_path / "rt-polarity.pos", MR_POS.encode(encoding))
    write_bytes(tmp_path / "rt-polarity.neg", MR_NEG.encode(encoding))
    check_tiny_mr(load_classification_data("mr", data_dir=str(tmp_path)))


def test_mr_parent_folder_and_archive(tmp_path):
    write_bytes(tmp_path / "mr" / "utf8" / "rt-polarity.pos", MR_POS.encode())
    write_bytes(tmp_path / "mr" / "utf8" / "rt-polarity.neg", MR_NEG.encode())
    check_tiny_mr(load_classification_data("mr", data_dir=str(tmp_path / "mr")))
    check_tiny_mr(load_classification_data("mr", data_dir=str(tmp_path)))
    make_tar(tmp_path / "archive" / "rt-polaritydata.tar.gz", {
        "rt-polaritydata.README.1.0.txt": b"readme",
        "rt-polaritydata/rt-polarity.pos": MR_POS.encode("cp1252"),
        "rt-polaritydata/rt-polarity.neg": MR_NEG.encode("cp1252"),
    }, "w:gz")
    check_tiny_mr(load_classification_data("mr", data_dir=str(tmp_path / "archive")))


@pytest.mark.parametrize("dataset, missing, filename, garbage", [
    ("mr", "MR not found in data_dir", "rt-polaritydata.tar.gz", b"\x1f\x8b garbage"),
    ("debian", "apt-cache dumpavail", "Packages.xz", b"not xz at all"),
])
def test_missing_and_corrupted_local_copies(tmp_path, dataset, missing, filename, garbage):
    with pytest.raises(FileNotFoundError, match=missing):
        load_classification_data(dataset, data_dir=str(tmp_path))
    write_bytes(tmp_path / filename, garbage)
    with pytest.raises(ValueError, match=f"{filename} is corrupted"):
        load_classification_data(dataset, data_dir=str(tmp_path))


def test_mr_holdout_for_a_quick_split(tmp_path):
    write_bytes(tmp_path / "rt-polarity.pos", MR_POS.encode())
    write_bytes(tmp_path / "rt-polarity.neg", MR_NEG.encode())
    data = load_classification_data("mr", data_dir=str(tmp_path), test=0.5, seed=0)
    assert len(data.train_texts) == 2 and len(data.test_texts) == 2
    assert sorted(data.test_labels.tolist()) == [0, 1]


# Debian's package index: written here, in its format (stanzas of "Field: value" lines, a
# description's long part indented, blank lines between packages).

DEBIAN_INDEX = """Package: tetris-like
Version: 1.0-1
Section: games
Description: falling blocks puzzle for the terminal
Description-md5: 0123

Package: tetris-like-data
Section: games
Description: falling blocks puzzle for the terminal
 Data files: a long description is indented
 .
 and never read.

Package: star-map
Section: contrib/science
Description: planetarium that draws the night sky

Package: libstar0
Section: libs
Description: planetarium that draws the night sky

Package: both-ways
Section: net
Description: tool for two purposes

Package: both-ways-gui
Section: graphics
Description: tool for two purposes

Package: mailer
Section: non-free/mail
Priority: optional
Description: small mail transfer agent

Package: no-section
Description: a package without a section
"""


@pytest.mark.parametrize("filename, compress", [
    ("Packages", bytes), ("Packages.xz", lzma.compress), ("Packages.gz", gzip.compress),
])
def test_debian_synopses_labelled_with_their_section(tmp_path, filename, compress):
    write_bytes(tmp_path / "debian" / filename, compress(DEBIAN_INDEX.encode()))
    data = load_classification_data("debian", data_dir=str(tmp_path))
    # Kept once per synopsis; libs is not a topic; a synopsis of two topics is left out.
    assert data.label_names == ["games", "mail", "science"] and data.test_texts is None
    pairs = sorted(zip(data.train_texts, (data.label_names[i] for i in data.train_labels)))
    assert pairs == [
        ("falling blocks puzzle for the terminal", "games"),
        ("planetarium that draws the night sky", "science"),
        ("small mail transfer agent", "mail"),
    ]


def test_debian_index_without_a_topic_section(tmp_path):
    write_bytes(tmp_path / "debian" / "Packages", b"Package: lib\nSection: libs\nDescription: a library\n")
    with pytest.raises(ValueError, match="no package of the sections"):
        load_classification_data("debian", data_dir=str(tmp_path / "debian"))


# The shared local copies (skipped when ../shared/datasets is absent).

needs_shared_mr = pytest.mark.skipif(not os.path.isdir(SHARED_MR), reason=f"no shared MR copy at {SHARED_MR}")
needs_shared_imdb = pytest.mark.skipif(
    not os.path.isfile(os.path.join(SHARED_IMDB, "aclImdb_labeled.tar.xz")),
    reason=f"no shared IMDB copy at {SHARED_IMDB}",
)


@needs_shared_mr
def test_shared_mr_both_encodings_agree():
    utf8 = load_classification_data("mr", data_dir=SHARED_MR)  # finds utf8/
    original = load_classification_data("mr", data_dir=os.path.join(SHARED_MR, "original_cp1252"))
    assert len(utf8.train_texts) == 10662 and utf8.test_texts is None
    assert np.bincount(utf8.train_labels).tolist() == [5331, 5331]
    assert utf8.train_texts == original.train_texts
    assert np.array_equal(utf8.train_labels, original.train_labels)
    text = "\n".join(utf8.train_texts)
    assert "\u2014" in text and "\x97" not in text and "\ufffd" not in text  # cp1252, not latin-1
    assert "simplistic , silly and tedious ." in utf8.train_texts


@needs_shared_imdb
def test_shared_imdb_counts_and_labels():
    data = load_classification_data("imdb", data_dir=SHARED_IMDB)
    assert data.label_names == ["neg", "pos"]
    assert np.bincount(data.train_labels).tolist() == [12500, 12500]
    # Test examples keep the sorted archive order: aclImdb/test/neg/*, then aclImdb/test/pos/*.
    assert data.test_labels.tolist() == [0] * 12500 + [1] * 12500
    # train/pos/0_9.txt is the well-known "Bromwell High" review.
    bromwell = [i for i, text in enumerate(data.train_texts) if text.startswith("Bromwell High is a cartoon comedy")]
    assert len(bromwell) == 1 and data.train_labels[bromwell[0]] == 1
    assert not any("<br" in text for text in data.train_texts + data.test_texts)
