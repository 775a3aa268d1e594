"""Translation corpora as lists of (source, target) sentence pairs.

- "multi30k-de-en": Multi30k task 1 (Elliott et al. 2016, WMT16 multimodal), German -> English,
  the raw files of the official repository: 29,000 / 1,014 / 1,000 pairs (train / val / test2016);
  "multi30k-en-de" is the same corpus English -> German.
- "spa-eng": the Tatoeba Spanish -> English pairs of the TensorFlow NMT tutorial (~118k pairs,
  no official split: 80 / 10 / 10 by seed).
- "dates": the generated date corpus (`lstm_keras.datasets.dates`, the pairs of `data/dates.tsv`:
  `generate_dates(20000, seed=0)`), split 80 / 10 / 10 by seed like a TSV file; it needs no file.
- any TSV file of `source<TAB>target` lines.

Files come from `lstm_keras.datasets.download.fetch`: a local `data_dir` copy, or a download
checked against its SHA-256.
"""

import gzip
import os
import random
import shutil
import tempfile
import zipfile

from lstm_keras.datasets.dates import generate_dates
from lstm_keras.datasets.download import fetch
from lstm_keras.datasets.download import local_folder
from lstm_keras.io import read_tsv

MULTI30K_COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
MULTI30K_ORIGIN = (
    f"https://raw.githubusercontent.com/multi30k/dataset/{MULTI30K_COMMIT}/data/task1/raw/"
)
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
MULTI30K_SHA256 = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}

SPA_ENG_ORIGIN = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"
SPA_ENG_FILENAME = "spa-eng.zip"
SPA_ENG_MEMBER = "spa-eng/spa.txt"
SPA_ENG_SHA256 = "0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f"

DATASETS = ("multi30k-de-en", "spa-eng", "dates", "multi30k-en-de")
# The size and seed of the "dates" corpus (those of `data/dates.tsv`).
DATES_SIZE, DATES_SEED = 20000, 0
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def _read_lines(path):
    """Returns the lines of a (gzipped) UTF-8 text file, without line ends."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def load_multi30k(data_dir=None, source="de", target="en"):
    """Loads Multi30k task 1 (raw, untokenised, true-cased).

    Args:
        data_dir: a folder with the six `{train,val,test_2016_flickr}.{de,en}.gz` files (or
            with a `multi30k/` sub-folder holding them), or None to download them (once) from
            the official repository at a fixed commit.
        source: the source language, "de" or "en".
        target: the target language, "en" or "de".

    Returns:
        `(train, valid, test)`: lists of `(source, target)` pairs (29,000 / 1,014 / 1,000);
        test is the 2016 Flickr test set.

    Raises:
        FileNotFoundError: `data_dir` lacks a file.
        ValueError: a file does not have the expected SHA-256 (the message names it), or the
            two sides of a split do not have the same number of lines.
    """
    data_dir = local_folder(data_dir, "multi30k", MULTI30K_SHA256)
    splits = []
    for name in MULTI30K_SPLITS.values():
        paths = []
        for language in (source, target):
            filename = f"{name}.{language}.gz"
            if filename not in MULTI30K_SHA256:
                raise ValueError(
                    f"Multi30k languages are 'de' and 'en'; received source={source!r}, "
                    f"target={target!r}"
                )
            paths.append(fetch(
                filename, MULTI30K_ORIGIN + filename, sha256=MULTI30K_SHA256[filename],
                data_dir=data_dir,
            ))
        sources, targets = (_read_lines(path) for path in paths)
        if len(sources) != len(targets):
            raise ValueError(
                f"{paths[0]} has {len(sources)} lines but {paths[1]} has {len(targets)}"
            )
        splits.append(list(zip(sources, targets)))
    return tuple(splits)


def read_spa_eng(path):
    """Reads the Spanish -> English pairs from `spa-eng.zip` (member `spa-eng/spa.txt`).

    Each line of `spa.txt` is `english<TAB>spanish` (extra columns, such as attributions, are
    ignored).

    Args:
        path: the zip file.

    Returns:
        A list of `(spanish, english)` pairs, in file order.

    Raises:
        ValueError: the zip has no `spa-eng/spa.txt`, or a line has fewer than two columns
            (the message names the zip, the member and the line).
    """
    with zipfile.ZipFile(path) as archive:
        if SPA_ENG_MEMBER not in archive.namelist():
            raise ValueError(f"{path} has no {SPA_ENG_MEMBER}")
        tmp_dir = tempfile.mkdtemp(prefix="spa-eng.")
        try:
            member = archive.extract(SPA_ENG_MEMBER, tmp_dir)
            try:
                rows = read_tsv(member, min_columns=2)
            except ValueError as error:
                raise ValueError(str(error).replace(member, f"{path}:{SPA_ENG_MEMBER}")) from None
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return [(spanish, english) for english, spanish in rows]


def load_spa_eng(data_dir=None):
    """Loads all Tatoeba Spanish -> English pairs of the TensorFlow NMT tutorial.

    Args:
        data_dir: a folder with `spa-eng.zip` (or with a `spa-eng/` sub-folder holding it), or
            None to download it (once).

    Returns:
        A list of `(spanish, english)` pairs.
    """
    data_dir = local_folder(data_dir, "spa-eng", [SPA_ENG_FILENAME])
    path = fetch(SPA_ENG_FILENAME, SPA_ENG_ORIGIN, sha256=SPA_ENG_SHA256, data_dir=data_dir)
    return read_spa_eng(path)


def split_pairs(pairs, fractions=SPLIT_FRACTIONS, seed=0):
    """Splits pairs at random, deterministically by `seed`, keeping file order within each part.

    Args:
        pairs: a list of pairs.
        fractions: the fraction of pairs in each part (summing to 1; the last part takes the
            rounding remainder).
        seed: the random seed.

    Returns:
        A tuple of lists, one per fraction.

    Example:
    >>> train, valid, test = split_pairs([(str(i), str(i)) for i in range(10)], seed=1)
    >>> len(train), len(valid), len(test)
    (8, 1, 1)
    """
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    parts, start = [], 0
    for index, fraction in enumerate(fractions):
        end = len(order) if index == len(fractions) - 1 else start + round(fraction * len(order))
        parts.append([pairs[i] for i in sorted(order[start:end])])
        start = end
    return tuple(parts)


def _is_path(dataset):
    return os.path.exists(dataset) or os.sep in dataset or dataset.endswith((".tsv", ".txt"))


def load_translation_data(dataset, data_dir=None, valid=None, test=None, seed=0, header=None):
    """Loads a translation corpus as `(train, valid, test)` lists of `(source, target)` pairs.

    Args:
        dataset: "multi30k-de-en" or "multi30k-en-de" (official splits), "spa-eng" or "dates" (split 80/10/10 by
            `seed`), or the path of a TSV file of `source<TAB>target` lines (extra columns are ignored).
        data_dir: a folder with local copies of the named data sets' files (see `fetch`).
        valid: for a TSV `dataset`, an optional TSV file of validation pairs.
        test: for a TSV `dataset`, an optional TSV file of test pairs.
        seed: the seed of the random split. A TSV without `valid` and `test` is split 80/10/10;
            with only one of them given, the other is taken as 10% of the `dataset` file.
        header: for TSV files, whether the first line is a header; None to detect one
            (`lstm_keras.io.read_tsv`).

    Returns:
        `(train, valid, test)`, each a list of `(source, target)` string pairs.

    Raises:
        ValueError: `dataset` is neither a known name nor a file path; `valid`/`test` are given
            for a named data set; a TSV line has fewer than two columns (the message names the
            file and the line); a downloaded or local file has the wrong SHA-256.
        FileNotFoundError: a TSV file or a file in `data_dir` does not exist.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
    >>> _ = open(path, "w").write("".join(f"hola {i}\\thello {i}\\n" for i in range(20)))
    >>> train, valid, test = load_translation_data(path)
    >>> len(train), len(valid), len(test), train[0]
    (16, 2, 2, ('hola 0', 'hello 0'))
    """
    dataset = os.fspath(dataset)
    if dataset in DATASETS:
        if valid is not None or test is not None:
            raise ValueError(
                f"`valid` and `test` files apply to TSV data sets only; {dataset!r} has its own splits"
            )
        if dataset.startswith("multi30k-"):
            source, target = dataset.split("-")[1:]
            return load_multi30k(data_dir, source=source, target=target)
        if dataset == "dates":
            return split_pairs(generate_dates(DATES_SIZE, seed=DATES_SEED), seed=seed)
        return split_pairs(load_spa_eng(data_dir), seed=seed)
    if not _is_path(dataset):
        raise ValueError(
            f"`dataset` must be one of {DATASETS} or the path of a TSV file; "
            f"received: dataset={dataset!r}"
        )
    pairs = read_tsv(dataset, min_columns=2, header=header)
    valid_pairs = None if valid is None else read_tsv(valid, min_columns=2, header=header)
    test_pairs = None if test is None else read_tsv(test, min_columns=2, header=header)
    if valid_pairs is None and test_pairs is None:
        return split_pairs(pairs, seed=seed)
    if valid_pairs is None:
        pairs, valid_pairs = split_pairs(pairs, fractions=(0.9, 0.1), seed=seed)
    elif test_pairs is None:
        pairs, test_pairs = split_pairs(pairs, fractions=(0.9, 0.1), seed=seed)
    return pairs, valid_pairs, test_pairs
