"""Text-classification benchmarks: IMDB test accuracy, MR 10-fold CV accuracy, gating presets compared.

Three runs, each printing a Markdown table (and one JSON line per result) and writing
`OUT/<run>.json`:

* `imdb`: an ensemble of three bidirectional LSTMs with attention pooling and word dropout
  (seeds 0, 1, 2; each holds out its own 10% of the 25,000 IMDB training reviews for early
  stopping; their probabilities averaged), tested on the official 25,000 test reviews, with each
  member's own accuracy. Target: test accuracy >= 89%. Reports the time per epoch on this
  machine. `--set members=1` trains one model.
* `mr`: the same kind of ensemble (three bidirectional LSTMs with max pooling in each fold),
  10-fold cross-validation on MR (Pang & Lee 2005; no official split). Target: mean accuracy
  >= 78% (Kim 2014's CNN-rand gets 76.1, CNN-non-static 81.5).
* `presets`: every gating preset of `lstm_keras.layers.VARIANTS` trained the same way on one
  task (default: the generated `reviews` corpus, where word order matters), with its test
  accuracy and time per epoch.

Usage (the data come from local copies; nothing is downloaded with `--data-dir`):

    KERAS_BACKEND=tensorflow python benchmarks/bench_classification.py imdb --data-dir ../shared/datasets
    KERAS_BACKEND=tensorflow python benchmarks/bench_classification.py mr --data-dir ../shared/datasets
    KERAS_BACKEND=tensorflow python benchmarks/bench_classification.py presets --dataset reviews --epochs 2

Training batches are grouped by length (`bucket_boundaries`), so a batch of short reviews is not
padded to the longest review of the data set.
"""

import argparse
import inspect
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from lstm_keras.datasets.classification import load_classification_data  # noqa: E402
from lstm_keras.io import write_text  # noqa: E402
from lstm_keras.layers.gating import VARIANTS  # noqa: E402
from lstm_keras.models.classification.text_classifier import TextClassifier  # noqa: E402
from lstm_keras.models.classification.training import cross_validate  # noqa: E402
from lstm_keras.models.classification.training import evaluate_classifier  # noqa: E402
from lstm_keras.models.classification.training import fit_classifier  # noqa: E402
from lstm_keras.models.classification.training import split_validation  # noqa: E402
from lstm_keras.models.classification.training import train_classifier  # noqa: E402

# `train_classifier` options a `--set` may change besides `fit_classifier`'s.
TRAIN_OPTIONS = ("members", "valid_split")

# Every configuration in one place: the model, then the training.
CONFIGS = {
    "imdb": {
        "model": dict(vocabulary_size=10000, max_length=800, truncation="pre", embedding_dim=128, units=64,
                      bidirectional=True, pooling="attention", dropout=0.5, word_dropout=0.3),
        "fit": dict(members=3, epochs=8, batch_size=64, learning_rate=1e-3, patience=2,
                    bucket_boundaries=(64, 128, 192, 256, 320, 448, 640)),
        "target": 0.89,
    },
    "mr": {
        "model": dict(vocabulary_size=10000, max_length=64, strip_punctuation=False, embedding_dim=300, units=100,
                      bidirectional=True, pooling="max", dropout=0.5),
        "fit": dict(members=3, epochs=10, batch_size=50, learning_rate=1e-3, patience=2,
                    bucket_boundaries=(16, 24, 32, 48)),
        "target": 0.78,
        "folds": 10,
    },
    "presets": {
        "model": dict(vocabulary_size=500, max_length=40, embedding_dim=32, units=32, pooling="last", dropout=0.0),
        "fit": dict(epochs=2, batch_size=32, learning_rate=3e-3, patience=2, bucket_boundaries=(8, 12, 16)),
    },
}


def run_imdb(args):
    config = CONFIGS["imdb"]
    model, fit = _settings(args, config)
    data = load_classification_data("imdb", data_dir=_data_dir(args, "imdb"), seed=args.seed)
    result = _train_and_test(data, model, fit, args, "imdb")
    result["target"] = config["target"]
    _table([result], "IMDB test accuracy (target >= 89%)")
    return [result]


def run_mr(args):
    config = CONFIGS["mr"]
    model, fit = _settings(args, config)
    data = load_classification_data("mr", data_dir=_data_dir(args, "mr"), seed=args.seed)
    start = time.perf_counter()
    cv = cross_validate(
        lambda: TextClassifier(data.label_names, **model), data.train_texts, data.train_labels,
        config["folds"], os.path.join(args.out, "mr"), seed=args.seed, verbose=args.verbose, **fit,
    )
    result = {
        "run": "mr", "gating": "vanilla", "accuracy": cv["accuracy"], "accuracy_std": cv["accuracy_std"],
        "macro_f1": cv["macro_f1"], "seconds_per_epoch": cv["seconds_per_epoch"], "folds": cv["folds"],
        "minutes": (time.perf_counter() - start) / 60, "target": config["target"], "settings": args.set,
    }
    _table([result], f"MR {config['folds']}-fold cross-validation accuracy (target >= 78%)")
    return [result]


def run_presets(args):
    model, fit = _settings(args, CONFIGS["presets"])
    data = load_classification_data(args.dataset, data_dir=args.data_dir, seed=args.seed)
    results = []
    for gating in args.presets or tuple(VARIANTS):
        result = _train_and_test(data, {**model, "gating": gating}, fit, args, f"presets/{gating}")
        results.append(result)
        print(json.dumps(result), flush=True)
    _table(results, f"Gating presets on {args.dataset} ({fit['epochs']} epochs, same model otherwise)")
    return results


def _train_and_test(data, model_kwargs, fit_kwargs, args, name):
    texts, labels = list(data.train_texts), np.asarray(data.train_labels)
    test_texts, test_labels = data.test_texts, data.test_labels
    if test_texts is None:
        keep, held = split_validation(labels, 0.1, seed=args.seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
    start = time.perf_counter()
    classifier, runs = train_classifier(
        lambda: TextClassifier(data.label_names, **model_kwargs), texts, labels, os.path.join(args.out, name),
        seed=args.seed, verbose=args.verbose, **fit_kwargs,
    )
    train_minutes = (time.perf_counter() - start) / 60
    report = evaluate_classifier(classifier, test_texts, test_labels)
    result = {
        "run": name, "gating": model_kwargs.get("gating", "vanilla"), "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"], "epochs": sum(len(run["history"].epoch) for run in runs),
        "seconds_per_epoch": float(np.mean([run["seconds_per_epoch"] for run in runs])),
        "minutes": train_minutes, "test_examples": report["examples"], "settings": args.set,
    }
    if len(runs) > 1:  # each member alone, to show what the ensemble adds
        result["members"] = [
            {"seed": run["seed"], "accuracy": evaluate_classifier(member, test_texts, test_labels)["accuracy"],
             "epochs": len(run["history"].epoch)}
            for member, run in zip(classifier.members, runs)
        ]
    return result


def _table(results, title):
    print(f"\n### {title}\n")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    print("| run | gating | accuracy | macro-F1 | epochs | s / epoch |")
    print("|---|---|---|---|---|---|")
    for r in results:
        accuracy = f"{r['accuracy']:.4f}" + (f" ± {r['accuracy_std']:.4f}" if "accuracy_std" in r else "")
        epochs = r.get("epochs", f"{r.get('folds')} folds")
        print(f"| {r['run']} | {r['gating']} | {accuracy} | {r['macro_f1']:.4f} | {epochs} | {r['seconds_per_epoch']:.1f} |")
    for r in results:
        if "members" in r:
            alone = ", ".join(f"seed {m['seed']}: {m['accuracy']:.4f} ({m['epochs']} epochs)" for m in r["members"])
            print(f"\n{r['run']}: the ensemble's members alone: {alone}")
    print(flush=True)


def _data_dir(args, name):
    if args.data_dir is None:
        return None  # downloads once into KERAS_HOME
    nested = os.path.join(args.data_dir, name)
    return nested if os.path.isdir(nested) else args.data_dir


def _settings(args, config):
    """The run's model and fit settings with `--epochs`, `--time-budget` and every `--set KEY=VALUE` applied."""
    model, fit = dict(config["model"]), dict(config["fit"])
    if args.epochs:
        fit["epochs"] = args.epochs
    if args.time_budget:
        fit["time_budget"] = args.time_budget
    for setting in args.set:
        key, _, text = setting.partition("=")
        try:
            value = json.loads(text)  # numbers, true/false, null, lists
        except json.JSONDecodeError:
            value = text  # a plain string, e.g. pooling=attention
        if key in TRAIN_OPTIONS or key in inspect.signature(fit_classifier).parameters:
            fit[key] = value
        elif key in inspect.signature(TextClassifier).parameters:
            model[key] = value
        else:
            raise SystemExit(f"--set {setting}: {key!r} is neither a TextClassifier nor a train_classifier argument")
    return model, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", choices=("imdb", "mr", "presets", "all"))
    parser.add_argument("--data-dir", help="local copies of the data sets (e.g. ../shared/datasets)")
    parser.add_argument("--dataset", default="reviews", help="the presets run's data set (default: reviews)")
    parser.add_argument("--presets", nargs="*", choices=tuple(VARIANTS), help="presets to compare (default: all)")
    parser.add_argument("--epochs", type=int, help="override the run's number of epochs")
    parser.add_argument("--time-budget", type=float, help="minutes per training run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one model or fit setting of the run (a JSON value or a string), "
                             "e.g. --set vocabulary_size=8000 --set strip_punctuation=false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument("--out", default="runs/bench_classification")
    args = parser.parse_args(argv)
    runs = ("imdb", "mr", "presets") if args.run == "all" else (args.run,)
    for run in runs:
        results = {"imdb": run_imdb, "mr": run_mr, "presets": run_presets}[run](args)
        write_text(os.path.join(args.out, f"{run}.json"), json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
