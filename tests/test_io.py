"""Crash-safe writes, strict TSV reading and safe model loading (`lstm_keras.io`)."""

import os

import keras
import numpy as np
import pytest

from lstm_keras.io import atomic_path
from lstm_keras.io import load_keras_model
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


def small_model(with_lambda=False):
    inputs = keras.Input((3,))
    x = keras.layers.Dense(2)(inputs)
    if with_lambda:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    return keras.Model(inputs, x)


def test_load_keras_model_round_trips(tmp_path):
    model = small_model()
    model.save(tmp_path / "m.keras")
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(np.asarray(load_keras_model(tmp_path / "m.keras")(x)), np.asarray(model(x)))


def test_a_lambda_layer_is_refused(tmp_path):
    small_model(with_lambda=True).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"refused to load .*lambda.keras.*Lambda"):
        load_keras_model(tmp_path / "lambda.keras")


def test_missing_truncated_and_corrupted_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras"):
        load_keras_model(tmp_path / "nothere.keras")
    small_model().save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.keras").write_bytes(b"not a model at all" * 10)
    for name in ("truncated.keras", "garbage.keras"):
        before = (tmp_path / name).read_bytes()
        with pytest.raises(ValueError, match=name):
            load_keras_model(tmp_path / name)
        assert (tmp_path / name).read_bytes() == before, "loading must never touch the file"
