"""Tests of the translation data loaders (`lstm_keras.datasets.translation`)."""

import gzip
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from lstm_keras.datasets import translation
from lstm_keras.datasets.download import fetch
from lstm_keras.datasets.translation import load_translation_data, read_spa_eng, split_pairs

# The shared local copies live beside the checkout (../shared/datasets); a user's clone has none.
SHARED = Path(
    os.environ.get("LSTM_KERAS_SHARED_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
MULTI30K = SHARED / "multi30k"


@pytest.fixture(autouse=True)
def no_data_dir_from_environment(monkeypatch):
    monkeypatch.delenv("LSTM_KERAS_DATA_DIR", raising=False)


@pytest.mark.skipif(not MULTI30K.is_dir(), reason=f"no local Multi30k copy in {MULTI30K}")
def test_multi30k_from_local_copies():
    train, valid, test = load_translation_data("multi30k-de-en", data_dir=str(MULTI30K))
    assert (len(train), len(valid), len(test)) == (29000, 1014, 1000)
    assert train[0] == (
        "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
        "Two young, White males are outside near many bushes.",
    )
    assert all(isinstance(s, str) and isinstance(t, str) and s and t for s, t in valid + test)
    reverse = load_translation_data("multi30k-en-de", data_dir=str(MULTI30K))
    assert [[(t, s) for s, t in split] for split in reverse] == [train, valid, test]


@pytest.mark.skipif(not MULTI30K.is_dir(), reason=f"no local Multi30k copy in {MULTI30K}")
def test_multi30k_in_a_folder_of_data_sets(tmp_path, monkeypatch):
    # `../shared/datasets`' layout: one folder, a sub-folder per data set; given as --data-dir or in the environment.
    (tmp_path / "multi30k").symlink_to(MULTI30K, target_is_directory=True)
    expected = load_translation_data("multi30k-de-en", data_dir=str(MULTI30K))
    assert load_translation_data("multi30k-de-en", data_dir=str(tmp_path)) == expected
    monkeypatch.setenv("LSTM_KERAS_DATA_DIR", str(tmp_path))
    assert load_translation_data("multi30k-de-en") == expected
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train\.de\.gz not found in data_dir"):
        load_translation_data("multi30k-de-en", data_dir=str(tmp_path / "empty"))


def test_multi30k_origin_is_the_pinned_official_repository():
    assert translation.MULTI30K_ORIGIN + "train.de.gz" == (
        "https://raw.githubusercontent.com/multi30k/dataset/"
        "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/train.de.gz"
    )
    assert sorted(translation.MULTI30K_SHA256) == sorted(
        f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr") for lang in ("de", "en")
    )


def test_wrong_hash_is_an_error_naming_the_file(tmp_path):
    fake = tmp_path / "train.de.gz"
    with gzip.open(fake, "wt", encoding="utf-8") as f:
        f.write("Nicht die echte Datei.\n")
    with pytest.raises(ValueError, match=r"train\.de\.gz.*sha256"):
        fetch("train.de.gz", translation.MULTI30K_ORIGIN + "train.de.gz",
              sha256=translation.MULTI30K_SHA256["train.de.gz"], data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"train\.de\.gz"):
        load_translation_data("multi30k-de-en", data_dir=str(tmp_path))


def test_missing_local_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train\.de\.gz"):
        load_translation_data("multi30k-de-en", data_dir=str(tmp_path))


SPA_TXT = (
    "Go.\tVe.\n"
    "Hello!\t¡Hola!\tCC-BY 2.0 (France) Attribution: tatoeba.org #373330\n"
    "\n"
    "I don't know.\tNo lo sé.\n"
) + "".join(f"Number {i}.\tNúmero {i}.\n" for i in range(37))


def make_spa_eng_zip(path, text=SPA_TXT):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("spa-eng/_about.txt", "test archive\n")
        archive.writestr("spa-eng/spa.txt", text)
    return path


def test_spa_eng_parsing_spanish_to_english(tmp_path):
    pairs = read_spa_eng(make_spa_eng_zip(tmp_path / "spa-eng.zip"))
    assert pairs[:3] == [("Ve.", "Go."), ("¡Hola!", "Hello!"), ("No lo sé.", "I don't know.")]
    assert len(pairs) == 40


def test_spa_eng_through_fetch_and_split(tmp_path, monkeypatch):
    path = make_spa_eng_zip(tmp_path / "spa-eng.zip")
    with pytest.raises(ValueError, match=r"spa-eng\.zip"):  # not the official file
        load_translation_data("spa-eng", data_dir=str(tmp_path))
    monkeypatch.setattr(translation, "SPA_ENG_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    train, valid, test = load_translation_data("spa-eng", data_dir=str(tmp_path), seed=0)
    assert (len(train), len(valid), len(test)) == (32, 4, 4)
    assert sorted(train + valid + test) == sorted(read_spa_eng(path))
    assert load_translation_data("spa-eng", data_dir=str(tmp_path), seed=0) == (train, valid, test)


def test_spa_eng_bad_line_names_the_archive_and_line(tmp_path):
    path = make_spa_eng_zip(tmp_path / "spa-eng.zip", "Go.\tVe.\nno tab here\n")
    with pytest.raises(ValueError, match=r"spa-eng\.zip:spa-eng/spa\.txt, line 2"):
        read_spa_eng(path)


def write_tsv(path, rows):
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_tsv_is_split_80_10_10_deterministically(tmp_path):
    rows = [(f"source {i}", f"target {i}", "extra column") for i in range(50)]
    path = write_tsv(tmp_path / "pairs.tsv", rows)
    train, valid, test = load_translation_data(path, seed=7)
    assert (len(train), len(valid), len(test)) == (40, 5, 5)
    assert sorted(train + valid + test) == sorted((s, t) for s, t, _ in rows)
    assert train == sorted(train, key=lambda pair: int(pair[0].split()[1]))  # file order kept
    assert load_translation_data(path, seed=7) == (train, valid, test)
    assert load_translation_data(path, seed=8)[1] != valid


def test_tsv_with_given_valid_and_test(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", [(f"s{i}", f"t{i}") for i in range(20)])
    valid = write_tsv(tmp_path / "valid.tsv", [("vs", "vt")])
    test = write_tsv(tmp_path / "test.tsv", [("ts", "tt")])
    assert load_translation_data(path, valid=valid, test=test) == (
        [(f"s{i}", f"t{i}") for i in range(20)], [("vs", "vt")], [("ts", "tt")]
    )
    train, valid_pairs, test_pairs = load_translation_data(path, valid=valid)
    assert (len(train), valid_pairs, len(test_pairs)) == (18, [("vs", "vt")], 2)


def test_tsv_missing_column_names_file_and_line(tmp_path):
    path = write_tsv(tmp_path / "bad.tsv", [("a", "b"), ("only one column",)])
    with pytest.raises(ValueError, match=r"bad\.tsv, line 2"):
        load_translation_data(path)
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        load_translation_data(str(tmp_path / "missing.tsv"))


def test_the_named_dates_corpus_is_the_committed_file_without_it():
    root = Path(__file__).resolve().parents[2]
    for seed in (0, 1):
        named = load_translation_data("dates", seed=seed)
        assert named == tuple(load_translation_data(str(root / "data" / "dates.tsv"), seed=seed))
    assert [len(split) for split in named] == [16000, 2000, 2000]


def test_unknown_dataset_and_misplaced_options():
    with pytest.raises(ValueError, match=r"'multi30k-de-en', 'spa-eng', 'dates'.*received: dataset='wmt14'"):
        load_translation_data("wmt14")
    with pytest.raises(ValueError, match="TSV"):
        load_translation_data("spa-eng", valid="valid.tsv")


def test_split_pairs():
    pairs = [(str(i), str(i)) for i in range(101)]
    parts = split_pairs(pairs, seed=0)
    assert [len(part) for part in parts] == [81, 10, 10]
    assert sorted(sum(parts, [])) == sorted(pairs)
    assert split_pairs([], seed=0) == ([], [], [])
