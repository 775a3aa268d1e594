"""`lstm-keras classify train | predict` end to end, in process, on tiny TSV files."""

import glob
import json
import os
import re
import shutil
import time

import keras
import numpy as np
import pytest

from cli_runner import DAMAGES
from cli_runner import damage_folder
from cli_runner import run_cli

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "8", "--vocab-size", "40", "--batch-size", "8"]


def write_tsv(path, rows):
    """Writes `label<TAB>text` rows (bytes or str) and returns the path."""
    with open(path, "wb") as f:
        for row in rows:
            f.write(row if isinstance(row, bytes) else row.encode("utf-8"))
            f.write(b"\n")
    return str(path)


def toy_rows(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ("negative", "positive")[i % 2]
        word = "good" if label == "positive" else "bad"
        rows.append(f"{label}\tthe {rng.choice(['film', 'plot', 'cast'])} was {word}")
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    # Bad input in the training data: empty, whitespace only, invalid UTF-8, very long.
    bad = ["positive\t", "negative\t   ", b"positive\tgood \xff\xfe bytes", "negative\t" + "bad " * 2000]
    # Pretrained vectors (GloVe text format, size 8 = --embedding-dim in TINY) for 2 of the words.
    vectors = folder / "vectors.txt"
    vectors.write_text("good " + " ".join(["0.5"] * 8) + "\nbad " + " ".join(["-0.5"] * 8) + "\n", encoding="utf-8")
    return {
        "vectors": str(vectors),
        "train": write_tsv(folder / "train.tsv", toy_rows(36, 0) + bad),
        "test": write_tsv(folder / "test.tsv", toy_rows(10, 1)),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def trained(data):
    """One tuned (2 trials) and tested run: the model folder the other tests use."""
    out = str(data["folder"] / "run")
    code, stdout, stderr = run_cli(
        ["classify", "train", "--dataset", data["train"], "--test", data["test"], "--tune", "2", "--seed", "3",
         "--embeddings", data["vectors"], "--out", out, *TINY]
    )
    assert code == 0, stderr[-3000:]
    return out, stdout, stderr


def test_train_prints_one_json_line_and_writes_the_artifacts(trained):
    out, stdout, stderr = trained
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    metrics = json.loads(lines[0])
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["macro_f1"] <= 1
    assert metrics["examples"] == 10 and metrics["evaluation"] == "test"
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert 0 < metrics["embeddings_oov_rate"] < 1 and "out-of-vocabulary rate" in stderr
    assert set(metrics["tuned"]) == {"gating", "units", "num_layers", "dropout", "learning_rate"}
    for name in ("model.keras", "saved_model/saved_model.pb", "confusion_matrix.png", "training_curves.png",
                 "metrics.json", "tuning.json", "history.csv", "checkpoints", "logs"):
        assert os.path.exists(os.path.join(out, name)), name
    assert len(json.load(open(os.path.join(out, "tuning.json")))["trials"]) == 2
    assert json.load(open(os.path.join(out, "metrics.json")))["accuracy"] == metrics["accuracy"]
    assert "val_loss" in stderr and "Search: Running Trial #2" in stderr  # progress goes to stderr


def test_predict_from_arguments_and_stdin(trained):
    out, _, _ = trained
    code, stdout, _ = run_cli(["classify", "predict", "--model", out, "the film was good", "", "zyxxy " * 500])
    assert code == 0
    lines = [line.split("\t") for line in stdout.splitlines()]
    assert len(lines) == 3
    assert all(label in ("negative", "positive") and 0.5 <= float(p) <= 1 for label, p in lines)
    code, stdout, _ = run_cli(["classify", "predict", "--model", out], stdin=b"good\n\n\xff\xfe bytes\nthe plot was bad\n")
    assert code == 0 and len(stdout.splitlines()) == 4


# Cross-validation itself is tested in the library (test_text_classifier.py), the TensorFlow Text
# tokenizer in test_classification_export.py: with the CLI's folds (six models) and the TensorFlow
# Text tokens (slow to trace), --large.
@pytest.mark.parametrize("folds, tokens", [
    (0, []), pytest.param(2, ["--tokenizer", "unicode_script", "--keep-punctuation"], marks=pytest.mark.large)])
def test_ensemble_serves_the_members_mean(data, tmp_path, folds, tokens):
    from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble

    out = tmp_path / "ensemble"
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", data["train"], "--test", data["test"],
                                    *(["--folds", str(folds)] if folds else []), *tokens,
                                    "--ensemble", "2", "--seed", "4", "--out", str(out), *TINY])
    assert code == 0, stderr[-3000:]
    metrics = json.loads(stdout)
    assert [member["seed"] for member in metrics["members"]] == [4, 5] and metrics["examples"] == 10
    assert all(member["epochs_trained"] == 1 for member in metrics["members"])
    expected = ["member_1/training_curves.png", "member_2/history.csv", "confusion_matrix.png",
                "saved_model/saved_model.pb"]
    if folds:
        assert metrics["cv_folds"] == folds
        expected.append(f"folds/fold_{folds}/member_2/history.csv")
    for name in expected:
        assert os.path.exists(out / name), name
    ensemble = keras.saving.load_model(out / "model.keras")
    assert isinstance(ensemble, ClassifierEnsemble) and len(ensemble.members) == 2
    assert all(member.tokenizer == ("unicode_script" if tokens else "whitespace") for member in ensemble.members)
    texts = ["the film was good", "the cast was bad"]
    code, stdout, _ = run_cli(["classify", "predict", "--model", str(out), *texts])
    expected = ensemble.predict_proba(texts)  # (2, 2)
    served = [line.split("\t") for line in stdout.splitlines()]
    assert code == 0 and [label for label, _ in served] == [ensemble.label_names[i] for i in expected.argmax(-1)]
    np.testing.assert_allclose([float(p) for _, p in served], expected.max(-1), atol=1e-4)


def test_a_budget_grows_an_ensemble_while_members_fit(data, tmp_path):
    from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble

    out = tmp_path / "budget"
    started = time.monotonic()
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", data["train"], "--test", data["test"],
                                    "--time-budget", "0.5", "--seed", "4", "--out", str(out), *TINY])
    elapsed = time.monotonic() - started
    assert code == 0, stderr[-3000:]
    assert elapsed <= 30.0
    metrics = json.loads(stdout)
    budget = metrics["budget"]
    members = len(budget["member_seconds"])
    assert budget["spent_on"] == f"an ensemble of {members}" and members >= 2, (budget, stderr[-2000:])
    assert [member["seed"] for member in metrics["members"]] == list(range(4, 4 + members))
    assert "needed for member" in budget["stopped_growing"] or "at the most members" in budget["stopped_growing"]
    ensemble = keras.saving.load_model(out / "model.keras")
    assert isinstance(ensemble, ClassifierEnsemble) and len(ensemble.members) == members
    # The first member's files are the run's own, the others' in member_<i>/.
    for name in ["history.csv", "training_curves.png", f"member_{members}/history.csv", "saved_model/saved_model.pb"]:
        assert os.path.exists(out / name), name
    # One vocabulary for every member: the grown ensemble exports on token ids too.
    assert all(member.vocabulary == ensemble.members[0].vocabulary for member in ensemble.members)
    code, stdout, stderr = run_cli(["classify", "export", "--model", str(out), "--format", "onnx",
                                    "--out", str(tmp_path / "ensemble.onnx")])
    assert code == 0 and json.loads(stdout)["max_abs_difference"] <= 1e-4, stderr[-2000:]


def test_predict_names_the_missing_file(trained, tmp_path):
    code, _, stderr = run_cli(["classify", "predict", "--model", str(tmp_path / "nowhere"), "text"])
    assert code == 2 and "nowhere" in stderr
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    code, _, stderr = run_cli(["classify", "predict", "--model", str(incomplete), "text"])
    assert code == 2 and os.path.join("saved_model", "saved_model.pb") in stderr


@pytest.mark.parametrize(
    "rows, message",
    [
        (["positive\tgood", "\tno label here", "negative\tbad"], r"line 2: missing or empty label"),
        (["positive\tgood", "negative"], r"line 2: expected at least 2 tab-separated columns, found 1"),
        (["positive\tgood", "positive\tgreat"], r"single class \['positive'\]"),
    ],
    ids=["empty-label", "columns", "single-class"],
)
def test_bad_training_data_exits_2_with_a_message(tmp_path, rows, message):
    path = write_tsv(tmp_path / "bad.tsv", rows)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", path, "--out", str(out), *TINY])
    assert code == 2 and stdout == ""
    assert "bad.tsv" in stderr and re.search(message, stderr), stderr
    assert not out.exists()


def test_unknown_dataset_and_bad_options_exit_2(tmp_path):
    code, _, stderr = run_cli(["classify", "train", "--dataset", "imdbb", "--out", str(tmp_path / "o")])
    assert code == 2 and "unknown dataset 'imdbb'" in stderr and "imdb" in stderr
    code, _, stderr = run_cli(["classify", "train", "--dataset", "mr", "--gating", "gru", "--out", str(tmp_path)])
    assert code == 2 and "--gating" in stderr and "cifg" in stderr
    code, _, stderr = run_cli(["classify", "train", "--dataset", "mr", "--folds", "1", "--out", str(tmp_path)])
    assert code == 2 and "--folds" in stderr


def test_failing_run_leaves_nothing_half_written(data, tmp_path, monkeypatch):
    from lstm_keras.models.classification import training as classification_training

    def compile_only(classifier, *args, **kwargs):  # training itself is tested elsewhere: skip it here
        classifier.compile()
        history = keras.callbacks.History()
        history.on_train_begin()
        return history, 0.0

    def write_half_then_fail(self, filepath, **kwargs):
        os.makedirs(filepath)
        with open(os.path.join(filepath, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    # The run fails after training, in the middle of writing the SavedModel.
    monkeypatch.setattr(classification_training, "fit_classifier", compile_only)
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", write_half_then_fail)
    out = tmp_path / "run"
    code, _, stderr = run_cli(["classify", "train", "--dataset", data["train"], "--out", str(out), *TINY])
    assert code == 2 and stderr.strip().splitlines()[-1] == "lstm-keras: error: disk full"  # one line, no traceback
    assert os.listdir(out) == [".in_progress"]  # nothing in --out itself: the run is staged
    names = set(os.listdir(out / ".in_progress"))
    assert "saved_model" not in names and "metrics.json" not in names
    assert not [name for name in names if name.startswith(".")], names  # no temporaries left
    assert "model.keras" in names  # complete: written before the export failed


def write_foreign_saved_model(path):
    """A SavedModel whose `serving_default` is not a classifier's (no `label` output)."""
    import tensorflow as tf

    module = tf.Module()
    module.serve = tf.function(lambda texts: {"lengths": tf.strings.length(texts)},
                               input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


@pytest.mark.parametrize("damage", ["truncated variables", "corrupt graph", "foreign model", "other task",
                                    "newer version"])
def test_damaged_saved_models_are_one_line_errors(trained, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(trained[0], copy)
    saved_model = copy / "saved_model"
    if damage == "truncated variables":
        for path in glob.glob(str(saved_model / "variables" / "variables.data-*")):
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 3)
    elif damage == "corrupt graph":
        (saved_model / "saved_model.pb").write_bytes(b"\x00garbage" * 10)
    elif damage == "foreign model":
        shutil.rmtree(saved_model)
        os.remove(copy / ".lstm_keras.json")
        write_foreign_saved_model(saved_model)
    else:
        damage_folder(copy, damage, "metrics.json")
    code, stdout, stderr = run_cli(["classify", "predict", "--model", str(copy), "the film was good"])
    expected = DAMAGES.get(damage, "is damaged or not a classifier's SavedModel")
    assert code == 2 and stdout == "" and expected in stderr and "Traceback" not in stderr, stderr


def test_a_data_set_too_small_to_hold_out_a_test_split_is_refused(tmp_path):
    data = write_tsv(tmp_path / "four.tsv", toy_rows(4, seed=0))
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", data, "--out", str(out), *TINY])
    assert code == 2 and stdout == "" and "too few to split off 10%" in stderr and not out.exists()


def test_a_header_row_is_not_a_class(tmp_path):
    data = write_tsv(tmp_path / "with_header.tsv", ["label\ttext"] + toy_rows(40, seed=1))
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", data, "--out", str(out), *TINY])
    assert code == 0, stderr[-2000:]
    assert json.loads(stdout)["label_names"] == ["negative", "positive"]


@pytest.mark.parametrize("option", [["--learning-rate", "-1"], ["--clipnorm", "-1"], ["--time-budget", "0"],
                                    ["--time-budget", "-1"], ["--dropout", "1"]])
def test_bad_numbers_are_refused_before_anything_runs(tmp_path, option):
    data = write_tsv(tmp_path / "d.tsv", toy_rows(20, seed=1))
    code, _, stderr = run_cli(["classify", "train", "--dataset", data, "--out", str(tmp_path / "run"), *option])
    assert code == 2 and option[0] in stderr and not (tmp_path / "run").exists()


def test_train_and_predict_with_another_cell(data, tmp_path):
    out = str(tmp_path / "mingru")
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", data["train"], "--test", data["test"], "--cell",
                                    "mingru", "--bidirectional", "--out", out, *TINY])
    assert code == 0, stderr[-3000:]
    assert json.loads(stdout)["cell"] == "mingru"
    code, stdout, _ = run_cli(["classify", "predict", "--model", out, "a good film"])
    assert code == 0 and stdout.split("\t")[0] in ("negative", "positive")
