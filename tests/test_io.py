"""Crash-safe writes and strict TSV reading (`lstm_keras.io`)."""

import os

import pytest

from lstm_keras.io import NotUTF8Warning
from lstm_keras.io import atomic_path
from lstm_keras.io import read_tsv
from lstm_keras.io import write_text


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "metrics.json"
    write_text(target, "good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "good"
    assert os.listdir(tmp_path) == ["metrics.json"], "the temporary was left behind"


def test_atomic_path_replaces_a_directory(tmp_path):
    target = tmp_path / "saved_model"
    for content in ("first", "second"):
        with atomic_path(target) as tmp:
            os.makedirs(tmp)
            (open(os.path.join(tmp, "file"), "w")).write(content)
    assert (target / "file").read_text() == "second"
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]


def test_read_tsv_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\textra\n\nc\n")
    with pytest.raises(ValueError, match=r"pairs.tsv, line 3: expected at least 2 .* found 1"):
        read_tsv(path, 2)
    path.write_text("a\tb\textra\nc\td\n")
    assert read_tsv(path, 2) == [("a", "b"), ("c", "d")]
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        read_tsv(tmp_path / "missing.tsv", 2)


def test_read_tsv_strips_the_bom_accepts_crlf_and_skips_a_header(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_bytes("\ufefflabel\ttext\r\npositive\tgood film\r\n\r\nnegative\tbad\r\n".encode("utf-8"))
    assert read_tsv(path, 2) == [("positive", "good film"), ("negative", "bad")]
    assert read_tsv(path, 2, header=False)[0] == ("label", "text")
    assert read_tsv(path, 2, line_numbers=True) == [(2, ("positive", "good film")), (4, ("negative", "bad"))]
    path.write_text("source\ttarget\nhola\thello\n")
    assert read_tsv(path, 2) == [("hola", "hello")]
    path.write_text("positive\tgood\nnegative\tbad\n")  # no header: nothing skipped
    assert read_tsv(path, 2) == [("positive", "good"), ("negative", "bad")]
    assert read_tsv(path, 2, header=True) == [("negative", "bad")]


def test_bytes_that_are_not_utf8_are_replaced_with_a_warning_naming_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("positive\tgood\nnegative\tmauvais caf\u00e9\n".encode("latin-1"))
    with pytest.warns(NotUTF8Warning, match=r"latin1.tsv: 1 line not UTF-8 \(the first: line 2\).*iconv"):
        rows = read_tsv(path, 2)
    assert rows[1] == ("negative", "mauvais caf\ufffd")
