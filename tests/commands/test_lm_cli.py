"""`lstm-keras lm train | generate | score` end to end, in process, on a tiny generated text."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from lstm_keras.commands import lm as lm_command
from lstm_keras.datasets.tiny_corpus import generate_tiny_corpus
from lstm_keras.models.language_model import MAX_GENERATED_TOKENS
from cli_runner import DAMAGES
from cli_runner import damage_folder
from cli_runner import run_cli

TINY = ["--units", "8", "--layers", "1", "--epochs", "1", "--bptt", "6", "--batch-size", "4", "--seed", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_cli")
    corpus = folder / "corpus.txt"
    corpus.write_text("".join(s + "\n" for s in generate_tiny_corpus(150, seed=3)), encoding="utf-8")
    out = folder / "run"
    # The adaptive softmax (the full one is trained by the other tests).
    code, stdout, stderr = run_cli(["lm", "train", "--dataset", str(corpus), "--tie-weights", "--softmax", "adaptive",
                                    "--cutoffs", "20,60", "--out", str(out), *TINY])
    assert code == 0, stderr[-3000:]
    return {"folder": folder, "corpus": str(corpus), "out": str(out), "stdout": stdout, "stderr": stderr}


def test_train_prints_one_json_line_and_writes_the_model_folder(trained):
    lines = trained["stdout"].strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert 1 < metrics["valid_perplexity"] < metrics["vocab_size"] and 1 < metrics["test_perplexity"]
    assert len(metrics["valid_perplexity_per_epoch"]) == metrics["epochs_trained"] == 1
    assert metrics["train_tokens_per_second"] > 0 and metrics["generation_tokens_per_second"] > 0
    assert metrics["softmax"] == "adaptive" and metrics["cutoffs"] == [20, 60]
    for name in ("model.keras", "vocabulary.txt", "language_model.json", "metrics.json", "training_curves.png",
                 "history.csv", "saved_model"):
        assert os.path.exists(os.path.join(trained["out"], name)), name
    with open(os.path.join(trained["out"], "metrics.json")) as f:
        assert json.load(f)["test_perplexity"] == pytest.approx(metrics["test_perplexity"], rel=1e-5)
    assert "validation perplexity" in trained["stderr"]


def test_generate_with_every_sampler(trained):
    model = ["lm", "generate", "--model", trained["out"], "--tokens", "6"]
    runs = {}
    for name, options in (("greedy", ["--prompt", "the dogs", "--greedy"]),
                          ("top_k", ["--prompt", "the dogs", "--top-k", "3", "--seed", "2", "--samples", "3"]),
                          ("top_p", ["--prompt", "zzz qqq", "--top-p", "0.5", "--temperature", "0.5", "--seed", "2"]),
                          ("empty", ["--prompt", ""]),
                          ("again", ["--prompt", "the dogs", "--top-k", "3", "--seed", "2", "--samples", "3"])):
        code, stdout, stderr = run_cli(model + options)
        assert code == 0, stderr[-2000:]
        runs[name] = stdout.splitlines()
        assert len(runs[name]) == (3 if "--samples" in options else 1)
        assert all(len(line.split()) <= 6 for line in runs[name])
    assert runs["again"] == runs["top_k"]  # seeded draws repeat


@pytest.mark.parametrize(
    "options, message",
    [
        (["--tokens", "0"], "--tokens"),
        (["--tokens", str(MAX_GENERATED_TOKENS + 1)], "--tokens"),
        (["--temperature", "0"], "--temperature"),
        (["--temperature", "-1"], "--temperature"),
        (["--top-p", "0"], "--top-p"),
        (["--top-p", "1.5"], "--top-p"),
        (["--top-k", "0"], "--top-k"),
        (["--top-k", "3", "--top-p", "0.5"], "--top-k"),
    ],
)
def test_generate_rejects_bad_arguments(trained, options, message):
    code, stdout, stderr = run_cli(["lm", "generate", "--model", trained["out"], "--prompt", "the"] + options)
    assert code == 2 and stdout == "" and message in stderr


def test_score_reads_stdin(trained):
    stdin = "the dogs run .\nthe dogs runs .\n\nzzz\n".encode() + b"bad \xff bytes\n"
    code, stdout, stderr = run_cli(["lm", "score", "--model", trained["out"]], stdin=stdin)
    assert code == 0, stderr[-2000:]
    rows = [line.split("\t") for line in stdout.splitlines()]
    assert len(rows) == 5 and [int(n) for _, n in rows][:4] == [5, 5, 1, 2]
    assert all(float(lp) < 0 for lp, _ in rows)


def test_evaluate_repeats_the_training_run_numbers_and_adds_a_cache(trained):
    trained_metrics = json.loads(trained["stdout"])
    code, stdout, stderr = run_cli(["lm", "evaluate", "--model", trained["out"]])  # the corpus of its settings
    assert code == 0, stderr[-2000:]
    metrics = json.loads(stdout)
    for split in ("valid", "test"):
        assert metrics[f"{split}_perplexity"] == pytest.approx(trained_metrics[f"{split}_perplexity"], rel=1e-5)
    code, stdout, stderr = run_cli(["lm", "evaluate", "--model", trained["out"], "--dataset", trained["corpus"],
                                    "--cache"])
    assert code == 0, stderr[-2000:]
    cached = json.loads(stdout)
    assert cached["test_perplexity"] == pytest.approx(metrics["test_perplexity"], rel=1e-6)
    assert set(cached["cache"]) == {"window", "theta", "lambd"} and cached["cache_seconds"] >= 0
    assert 1 < cached["test_perplexity_with_cache"] < 2 * metrics["test_perplexity"]
    assert "with the cache" in stderr
    code, stdout, stderr = run_cli(["lm", "evaluate", "--model", str(trained["folder"] / "missing")])
    assert code == 2 and stdout == "" and "missing" in stderr and "Traceback" not in stderr


def test_train_errors_name_the_argument_and_leave_no_output(trained, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("a b c\nd e\nf\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["lm", "train", "--dataset", str(short), "--out", str(out), *TINY])
    assert code == 2 and "--bptt" in stderr and not out.exists()
    code, _, stderr = run_cli(["lm", "train", "--dataset", trained["corpus"], "--tie-weights", "--embedding-dim",
                               "4", "--out", str(out), *TINY])
    assert code == 2 and "--tie-weights" in stderr and not out.exists()
    code, _, stderr = run_cli(["lm", "generate", "--model", str(tmp_path / "missing")])
    assert code == 2 and "model folder not found" in stderr
    assert lm_command.MAX_GENERATED_TOKENS == MAX_GENERATED_TOKENS


def test_classify_train_with_language_model_pretraining(tmp_path):
    from lstm_keras.datasets.reviews import generate_reviews

    data = tmp_path / "reviews.tsv"
    data.write_text("".join(f"{label}\t{text}\n" for label, text in generate_reviews(240, seed=1)), encoding="utf-8")
    tiny = ["--epochs", "1", "--units", "4", "--embedding-dim", "8", "--vocab-size", "60", "--batch-size", "16"]
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", str(data), "--pretrain-lm", "1",
                                    "--out", str(tmp_path / "run"), *tiny])
    assert code == 0, stderr[-3000:]
    metrics = json.loads(stdout.strip().splitlines()[-1])
    assert metrics["pretraining"]["copied_layers"] == ["token_embedding", "lstm_1"]
    assert 0 <= metrics["accuracy"] <= 1 and "language-model pretraining" in stderr
    # More text for the language model: 100 unlabelled reviews, one a line, and a blank line.
    unlabeled = tmp_path / "unlabeled.txt"
    reviews = [text for _, text in generate_reviews(100, seed=2)]
    unlabeled.write_text("\n".join(reviews[:50]) + "\n\n" + "\n".join(reviews[50:]) + "\n", encoding="utf-8")
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", str(data), "--pretrain-lm", "1",
                                    "--unlabeled", str(unlabeled), "--out", str(tmp_path / "more"), *tiny])
    assert code == 0, stderr[-3000:]
    more = json.loads(stdout.strip().splitlines()[-1])["pretraining"]
    # The same training texts and vocabulary, plus each unlabelled review and its end id.
    from lstm_keras.models.classification.pretraining import classifier_token_stream
    from lstm_keras.saving import load_keras_model

    classifier = load_keras_model(str(tmp_path / "more" / "model.keras"))
    assert more["lm_tokens"] == metrics["pretraining"]["lm_tokens"] + len(classifier_token_stream(classifier, reviews))
    # ULMFiT's fine-tuning; the saved model, optimizer included, serves in a fresh process.
    code, stdout, stderr = run_cli(["classify", "train", "--dataset", str(data), "--pretrain-lm", "1",
                                    "--fine-tune", "ulmfit", "--out", str(tmp_path / "ulmfit"), *tiny])
    assert code == 0, stderr[-3000:]
    assert json.loads(stdout.strip().splitlines()[-1])["fine_tuning"] == "ulmfit"
    served = subprocess.run(
        [sys.executable, "-m", "lstm_keras", "classify", "predict", "--model", str(tmp_path / "ulmfit"), "good fun"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert served.returncode == 0, served.stderr[-2000:]
    label, probability = served.stdout.strip().split("\t")
    assert label in ("positive", "negative") and 0.5 <= float(probability) <= 1


@pytest.mark.parametrize("options, message", [
    (["--pretrain-lm", "1", "--bidirectional"], "--pretrain-lm needs a unidirectional classifier"),
    (["--unlabeled", "UNLABELED"], "--unlabeled is text for the language-model pretraining"),
    (["--pretrain-lm", "1", "--unlabeled", "MISSING"], "missing.txt: no such file or folder"),
    (["--pretrain-lm", "1", "--unlabeled", "UNLABELED"], "holds no text"),
    (["--fine-tune", "ulmfit"], "--fine-tune ulmfit fine-tunes pretrained layers"),
    (["--pretrain-objective", "autoencoder"], "is the objective of --pretrain-lm"),
])
def test_pretraining_options_are_checked_before_anything_runs(tmp_path, options, message):
    data = tmp_path / "reviews.tsv"
    data.write_text("positive\tgood\nnegative\tbad\n" * 20, encoding="utf-8")
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    paths = {"UNLABELED": str(tmp_path / "blank.txt"), "MISSING": str(tmp_path / "missing.txt")}
    code, _, stderr = run_cli(["classify", "train", "--dataset", str(data), *[paths.get(o, o) for o in options],
                               "--out", str(tmp_path / "run")])
    assert code == 2 and message in stderr, stderr[-2000:]
    assert "loading" not in stderr and not os.path.exists(tmp_path / "run" / "model.keras")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_model_folders_are_one_line_errors(trained, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(trained["out"], copy)
    damage_folder(copy, damage, "language_model.json")
    for command in (["generate", "--model", str(copy), "--prompt", "the"], ["score", "--model", str(copy), "a b"],
                    ["evaluate", "--model", str(copy)]):
        code, stdout, stderr = run_cli(["lm", *command])
        assert code == 2 and stdout == "" and DAMAGES[damage] in stderr and "Traceback" not in stderr, stderr


def test_score_takes_texts_as_arguments_and_refuses_a_huge_line(trained):
    code, stdout, stderr = run_cli(["lm", "score", "--model", trained["out"], "the cat sat", "a dog"])
    assert code == 0 and len(stdout.splitlines()) == 2, stderr[-2000:]
    _, from_stdin, _ = run_cli(["lm", "score", "--model", trained["out"]], stdin=b"the cat sat\na dog\n")
    assert from_stdin == stdout
    code, stdout, stderr = run_cli(["lm", "score", "--model", trained["out"]], stdin=b"ok\n" + b"word " * 300_000)
    assert code == 2 and stdout == "" and "text 2 has 1,500,000 bytes, more than the 1,048,576" in stderr


def test_a_diverging_run_keeps_the_good_model(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained["out"], out)
    before = (out / "metrics.json").read_text()
    code, stdout, stderr = run_cli(["lm", "train", "--dataset", trained["corpus"], "--tie-weights", "--out", str(out),
                                    *TINY, "--learning-rate", "1e30", "--clipnorm", "0"])
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    assert "loss became" in stderr or "diverged" in stderr
    assert (out / "metrics.json").read_text() == before  # the good model's folder as it was


def test_softmax_options_that_do_not_fit_the_vocabulary_are_one_line_errors(trained, tmp_path):
    for options, message in ((["--softmax", "adaptive"], "--softmax adaptive needs a vocabulary of at least"),
                             (["--softmax", "adaptive", "--cutoffs", "60,20"], "--cutoffs 60,20: expected strictly"),
                             (["--softmax", "adaptive", "--cutoffs", "20,5000"], "below the vocabulary size"),
                             (["--cutoffs", "20"], "--cutoffs are for --softmax adaptive")):
        code, _, stderr = run_cli(["lm", "train", "--dataset", trained["corpus"], "--out", str(tmp_path / "x"),
                                   *options, *TINY])
        assert code == 2 and message in stderr, stderr[-2000:]
        assert "Traceback" not in stderr and not (tmp_path / "x").exists()


def test_a_budget_too_small_for_the_evaluation_is_refused_before_training(trained, tmp_path):
    code, stdout, stderr = run_cli(["lm", "train", "--dataset", trained["corpus"], "--time-budget", "0.05",
                                    "--out", str(tmp_path / "x"), *TINY])
    assert code == 2 and "--time-budget 0.05 minutes is too small" in stderr, stderr[-2000:]
    assert "Epoch 1" not in stderr and stdout == "" and not (tmp_path / "x").exists()


def test_time_budget_bounds_the_whole_command(tmp_path):
    """A real run in a fresh process, on a corpus whose epochs take about the budget: it ends within it."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(s + "\n" for s in generate_tiny_corpus(20000, seed=5)), encoding="utf-8")
    budget_minutes = 0.75
    command = ["lm", "train", "--dataset", str(corpus), "--units", "128", "--layers", "1", "--bptt", "20",
               "--batch-size", "8", "--time-budget", str(budget_minutes), "--out", str(tmp_path / "run")]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lstm_keras", *command], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["stopped_by_time_budget"]
    batches_per_epoch = -(-metrics["tokens"][0] // (8 * 20))
    assert metrics["train_batches"] < metrics["epochs_trained"] * batches_per_epoch  # stopped inside an epoch
    assert seconds <= 1.05 * budget_minutes * 60, (seconds, done.stderr[-2000:])
    # The reported speed is the wall clock's: the training time it implies lies within the process' time and
    # within the time of `fit` (which adds the validations), and is most of the latter.
    implied = metrics["train_batches"] * 8 * 20 / metrics["train_tokens_per_second"]
    assert 0.6 * metrics["train_seconds"] <= implied <= metrics["train_seconds"] < seconds


def test_train_and_generate_with_another_cell(trained, tmp_path):
    out = tmp_path / "mingru"
    code, stdout, stderr = run_cli(["lm", "train", "--dataset", trained["corpus"], "--cell", "mingru",
                                    "--out", str(out), *TINY])
    assert code == 0, stderr[-3000:]
    metrics = json.loads(stdout)
    assert 1 < metrics["test_perplexity"] < metrics["vocab_size"]
    with open(os.path.join(out, "language_model.json")) as f:
        assert json.load(f)["training"]["cell"] == "mingru"
    code, stdout, stderr = run_cli(["lm", "generate", "--model", str(out), "--prompt", "the dogs", "--tokens", "5",
                                    "--greedy"])
    assert code == 0 and len(stdout.splitlines()) == 1, stderr[-2000:]  # one line (maybe empty: [END] first)


@pytest.mark.parametrize("command", ["lm", "classify", "translate"])
def test_bad_cells_are_one_line_errors(trained, tmp_path, command):
    out = tmp_path / "out"
    dataset = ["--dataset", trained["corpus"]]
    code, _, stderr = run_cli([command, "train", *dataset, "--cell", "gru", "--out", str(out)])
    assert code == 2 and "--cell" in stderr and "'gru'" in stderr and "xlstm[A:B]" in stderr
    code, _, stderr = run_cli([command, "train", *dataset, "--cell", "mlstm", "--gating", "cifg", "--out", str(out)])
    assert code == 2 and "cell='mlstm' with gating='cifg'" in stderr and not out.exists()
