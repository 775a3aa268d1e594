"""`lstm-keras translate train | run | eval`, run in-process on a tiny TSV."""

import io
import json
import os
import shutil
import subprocess
import sys

import keras
import pytest

if keras.backend.backend() != "tensorflow":
    pytest.skip("the translate commands export SavedModels: TensorFlow backend only", allow_module_level=True)

from cli_runner import DAMAGES  # noqa: E402
from cli_runner import damage_folder  # noqa: E402
from lstm_keras import cli  # noqa: E402
from lstm_keras.saving import MARKER_FILE  # noqa: E402
from lstm_keras.saving import write_marker  # noqa: E402

WORDS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis"]
TINY_MODEL = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--batch-size", "16", "--beam-size", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """49 pairs: two Spanish number words -> their digits."""
    directory = tmp_path_factory.mktemp("corpus")
    path = directory / "numbers.tsv"
    rows = [f"{a} {b}\t{WORDS.index(a)} {WORDS.index(b)}\n" for a in WORDS for b in WORDS]
    path.write_text("".join(rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "model")
    stdout = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, stdout
    try:
        status = cli.main(["translate", "train", "--dataset", corpus, *TINY_MODEL, "--out", out])
    finally:
        sys.stdout = real_stdout
    assert status == 0
    return out, stdout.getvalue()


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_prints_one_json_line_and_writes_the_folder(trained):
    out, stdout = trained
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout  # progress bars and logs go to stderr
    metrics = json.loads(lines[0])
    assert {"bleu", "chrf", "exact_match", "test_loss", "test_perplexity", "bleu_signature"} <= set(metrics)
    assert 0 <= metrics["bleu"] <= 100 and 0 <= metrics["chrf"] <= 100
    assert metrics["pairs"] == [39, 5, 5]
    for name in ("model.keras", "source_vocabulary.txt", "target_vocabulary.txt", "translation.json",
                 "saved_model/saved_model.pb", "training_curves.png", "attention_1.png", "metrics.json",
                 "test_translations.tsv", "history.csv", "checkpoints/best.weights.h5"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["bleu"] == metrics["bleu"]
    parent = os.path.dirname(out)
    assert os.listdir(parent) == ["model"]  # nothing staged is left behind


def test_a_budgeted_run_plans_its_translation_and_ends_in_time(corpus, tmp_path, capsys):
    import time

    started = time.monotonic()
    status, stdout, stderr = run_cli(capsys, "translate", "train", "--dataset", corpus, *TINY_MODEL, "--epochs", "2",
                                     "--time-budget", "1", "--out", str(tmp_path / "model"))
    assert status == 0 and time.monotonic() - started < 60
    assert "time budget:" in stderr and "after training, translating the test set will take about" in stderr
    assert json.loads(stdout)["test_sentences_skipped"] == 0


def test_run_translates_arguments_and_stdin(trained, capsys, monkeypatch):
    out, _ = trained
    status, stdout, stderr = run_cli(capsys, "translate", "run", "--model", out, "--beam-size", "3",
                                     "dos tres", "", "xyz ☃", "uno " * 100)
    assert status == 0
    assert len(stdout.splitlines()) == 4  # one line per input, bad inputs included
    assert stdout.splitlines()[1] == stdout.splitlines()[2] == ""  # nothing to translate; no known word
    assert "input 3 has no word of the source vocabulary" in stderr
    assert "input 4 has 100 tokens: only its first 62 are translated" in stderr and "input 1 " not in stderr
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("uno uno\ncinco cero\n".encode())))
    status, from_stdin, _ = run_cli(capsys, "translate", "run", "--model", out)
    assert status == 0 and len(from_stdin.splitlines()) == 2


def test_run_bounds_a_pathological_input_and_can_forbid_repeats(trained, capsys):
    out, _ = trained
    pathological = "uno " * 300 + "dos"  # truncated to the first 62 tokens; the output to 64 tokens at most
    status, plain, _ = run_cli(capsys, "translate", "run", "--model", out, pathological)
    assert status == 0 and 0 < len(plain.split()) <= 64
    status, guarded, _ = run_cli(capsys, "translate", "run", "--model", out, "--no-repeat-ngram", "1", pathological)
    words = guarded.split()
    assert status == 0 and len(words) == len(set(words)), guarded


def test_eval_prints_bleu_and_chrf(trained, corpus, capsys):
    out, _ = trained
    status, stdout, _ = run_cli(capsys, "translate", "eval", "--model", out, "--test", corpus)
    assert status == 0
    scores = json.loads(stdout)
    assert scores["sentences"] == 49 and {"bleu", "chrf", "exact_match"} <= set(scores)
    status, stdout, _ = run_cli(capsys, "translate", "eval", "--model", out, "--test", corpus,
                                "--beam-size", "3", "--coverage-penalty", "0.2")
    assert status == 0 and json.loads(stdout)["sentences"] == 49
    with pytest.raises(SystemExit) as error:  # argparse refuses a negative penalty
        run_cli(capsys, "translate", "eval", "--model", out, "--test", corpus, "--coverage-penalty", "-1")
    assert error.value.code == 2 and "--coverage-penalty" in capsys.readouterr().err


def test_incomplete_model_folder_is_a_clear_error(trained, tmp_path, capsys):
    out, _ = trained
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("model.keras", "source_vocabulary.txt", "target_vocabulary.txt"):
        (partial / name).write_bytes(open(os.path.join(out, name), "rb").read())
    status, _, stderr = run_cli(capsys, "translate", "run", "--model", str(partial), "hola")
    assert status == 2 and "translation.json" in stderr
    status, _, stderr = run_cli(capsys, "translate", "eval", "--model", str(tmp_path / "missing"),
                                "--test", str(tmp_path / "missing.tsv"))
    assert status == 2 and "missing.tsv" in stderr


def test_failed_run_leaves_no_half_written_out(corpus, tmp_path, monkeypatch):
    from lstm_keras.models.translation import Translator

    def crash(self, *args, **kwargs):
        raise RuntimeError("simulated crash during training")

    monkeypatch.setattr(Translator, "fit", crash)
    # The crash comes after the vocabularies, settings and untrained model were written (staged).
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # an earlier run's folder
    write_marker(str(out), "translate train", ["metrics.json"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(["translate", "train", "--dataset", corpus, *TINY_MODEL, "--out", str(out)])
    # The earlier folder's files exactly as they were; the failed run's staging folder beside them.
    assert os.listdir(tmp_path) == ["run"]
    assert sorted(os.listdir(out)) == [".in_progress", MARKER_FILE, "metrics.json"]
    assert (out / "metrics.json").read_text() == "{}"
    assert {"model.keras", "arguments.json"} <= set(os.listdir(out / ".in_progress"))


def test_bad_arguments_are_reported(corpus, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # argparse checks the number, as for every command
        cli.main(["translate", "train", "--dataset", corpus, "--dropout", "1.5", "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and "--dropout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["translate", "train", "--dataset", corpus, "--attention", "cosine", "--out", str(tmp_path / "x")])
    assert not os.path.exists(tmp_path / "x")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_model_folders_are_one_line_errors(trained, tmp_path, capsys, damage):
    out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    damage_folder(copy, damage, "translation.json")
    for command in (["run", "uno dos"], ["eval", "--test", os.path.join(out, "test_translations.tsv")]):
        status, stdout, stderr = run_cli(capsys, "translate", command[0], "--model", str(copy), *command[1:])
        assert status == 2 and stdout == "" and DAMAGES[damage] in stderr and "Traceback" not in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1


@pytest.mark.large  # the model with the cell is tested in tests/models; --cell's parsing in test_lm_cli
def test_train_and_run_with_another_cell(corpus, tmp_path, capsys):
    out = str(tmp_path / "mingru")
    status, stdout, stderr = run_cli(capsys, "translate", "train", "--dataset", corpus, *TINY_MODEL, "--cell", "mingru",
                                     "--out", out)
    assert status == 0, stderr[-2000:]
    assert json.loads(stdout)["cell"] == "mingru"
    status, stdout, _ = run_cli(capsys, "translate", "run", "--model", out, "--beam-size", "2", "dos tres", "")
    assert status == 0 and len(stdout.splitlines()) == 2


CASED_PAIRS = [
    ("where is the boy", "¿Dónde está el niño?"),
    ("he eats pineapple", "Él come piña."),
    ("tom runs", "¡Tom corre!"),
    ("the school", "La ÉCOLE «Muñoz»."),
]
# Reads the exported translator in a process with TensorFlow and TensorFlow Text only.
SERVE_CASED = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
translate = tf.saved_model.load(sys.argv[1]).signatures["translate"]
outputs = translate(texts=tf.constant(json.loads(sys.argv[2])))["translations"].numpy()
print(json.dumps([text.decode("utf-8") for text in outputs]))
"""


def test_targets_keep_case_accents_and_punctuation_end_to_end(tmp_path, capsys):
    # Four pairs to memorise: the translations must be the targets as written, from the recipe's test,
    # `translate run` and the SavedModel in a fresh process.
    path = tmp_path / "cased.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in CASED_PAIRS * 25), encoding="utf-8")
    out = str(tmp_path / "cased")
    status, stdout, stderr = run_cli(
        capsys, "translate", "train", "--dataset", str(path), "--epochs", "12", "--units", "16", "--embedding-dim",
        "16", "--batch-size", "8", "--learning-rate", "0.02", "--dropout", "0", "--patience", "12", "--beam-size", "1",
        "--out", out)
    assert status == 0, stderr[-2000:]
    metrics = json.loads(stdout)
    assert metrics["bleu"] == 100.0 and "case:mixed" in metrics["bleu_signature"]
    sources, targets = zip(*CASED_PAIRS)
    status, stdout, _ = run_cli(capsys, "translate", "run", "--model", out, *sources)
    assert status == 0 and stdout.splitlines() == list(targets)
    served = subprocess.run([sys.executable, "-c", SERVE_CASED, os.path.join(out, "saved_model"), json.dumps(sources)],
                            capture_output=True, text=True, timeout=240,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert served.returncode == 0, served.stderr[-2000:]
    assert json.loads(served.stdout.splitlines()[-1]) == list(targets)
