"""Language-model benchmark: PTB test perplexity, training and generation speed, pretraining gain.

Usage:
    # The full benchmark: a small tied 2-layer LSTM on PTB for an hour of training (target: test
    # perplexity <= 100 on 2 CPU cores; Zaremba et al. 2014: small 114.5, medium 82.7).
    KERAS_BACKEND=tensorflow python benchmarks/bench_language_model.py \\
        --data-dir /work/shared/datasets/ptb --time-budget 60 --epochs 40 --out runs/bench_ptb

    # A short measurement (one partial epoch): speeds, and the perplexity reached so far.
    KERAS_BACKEND=tensorflow python benchmarks/bench_language_model.py \\
        --data-dir /work/shared/datasets/ptb --time-budget 3 --epochs 1 --out runs/bench_ptb_short

    # The speed table: training and evaluation tokens/s of the full and the adaptive softmax over
    # Zipf-distributed synthetic streams with vocabularies of 10k, 33k and 100k tokens.
    KERAS_BACKEND=tensorflow python benchmarks/bench_language_model.py --throughput

    # The pretraining gain only (classification of the generated data/reviews.tsv).
    KERAS_BACKEND=tensorflow python benchmarks/bench_language_model.py --skip-ptb

    # The pretraining gain on MR (a seeded, stratified 10% held out as its test split).
    KERAS_BACKEND=tensorflow python benchmarks/bench_language_model.py --skip-ptb --pretrain-dataset mr \\
        --classification-data-dir ../shared/datasets --classifier-units 64 --classifier-vocab-size 10000

PTB training goes through `lstm-keras lm train` (so the numbers are exactly what the command
reports: validation and test perplexity over every token of each split, once). From its
metrics come the training speed (target tokens per second, the first, compiling batch excluded),
the time of an epoch (measured, or for a partial epoch projected from that speed as
`train tokens / tokens per second`, validation excluded) and the generation speed (random
sampling, 16 sequences of 50 tokens, compiled, tracing excluded). The pretraining gain trains the
same `TextClassifier` twice on the same split of `--pretrain-dataset` (the generated reviews
by default: the fixed test split of `load_classification_data("reviews")`; MR, which has no
split: a seeded, stratified 10% held out), with the same validation share and seed: once from scratch,
once after `pretrain_classifier_from_lm` (a language model on the classifier's own training
texts, its embedding and LSTM weights copied into the classifier), and reports both test
accuracies. The result is one JSON line on stdout; a Markdown summary goes to stderr.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help="local copies of the PTB files (default: download)")
    parser.add_argument("--out", default="runs/bench_ptb", help="the `lm train` output folder")
    parser.add_argument("--skip-ptb", action="store_true", help="only the pretraining gain")
    parser.add_argument("--throughput", action="store_true",
                        help="only the speed table of the full and adaptive softmax (synthetic Zipf streams)")
    parser.add_argument("--vocabularies", default="10000,33278,100000", help="the speed table's vocabulary sizes")
    parser.add_argument("--throughput-batches", type=int, default=40, help="timed batches per row of the speed table")
    parser.add_argument("--time-budget", type=float, default=60.0, help="PTB training minutes")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--gating", help="a gating preset (default: vanilla)")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=20.0, help="SGD learning rate")
    parser.add_argument("--pretrain-epochs", type=int, default=3, help="LM epochs before fine-tuning; 0: skip")
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--classifier-units", type=int, default=32)
    parser.add_argument("--classifier-vocab-size", type=int, default=2000)
    parser.add_argument("--train-texts", type=int, default=16000, help="texts used for training (first N)")
    parser.add_argument("--pretrain-dataset", default="reviews",
                        help="the classification data set of the pretraining gain: reviews, mr or imdb")
    parser.add_argument("--classification-data-dir", help="local copies of mr / imdb (default: download)")
    parser.add_argument("--folds", type=int, help="k-fold cross-validation of both classifiers (all training texts)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def train_ptb(args):
    """Trains with `lstm-keras lm train --dataset ptb --tie-weights`; returns its metrics."""
    from lstm_keras import cli

    argv = ["lm", "train", "--dataset", "ptb", "--tie-weights", "--units", str(args.units),
            "--layers", str(args.layers), "--dropout", str(args.dropout), "--bptt", str(args.bptt),
            "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
            "--learning-rate", str(args.learning_rate), "--seed", str(args.seed), "--out", args.out]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if args.time_budget:
        argv += ["--time-budget", str(args.time_budget)]
    if args.gating:
        argv += ["--gating", args.gating]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = cli.main(argv)
    if status:
        raise SystemExit(status)
    metrics = json.loads(stdout.getvalue().strip().splitlines()[-1])
    metrics["projected_seconds_per_epoch"] = round(metrics["tokens"][0] / metrics["train_tokens_per_second"], 1)
    return metrics


def zipf_stream(vocabulary_size, length, seed=0):
    """Token ids with Zipf frequencies (p ∝ 1 / rank) over the frequency-sorted ids 2 .. V-1 ([END] most frequent)."""
    import numpy as np

    ranks = np.arange(1, vocabulary_size - 1)
    p = 1.0 / ranks
    return (np.random.default_rng(seed).choice(len(ranks), size=length, p=p / p.sum()) + 2).astype("int32")


def throughput(args):
    """Training and evaluation tokens/s of `LanguageModel` with the full and the adaptive softmax.

    The model is the `lm train` default (2 x 200 units, batch 20, BPTT 35, untied); each row
    trains `--throughput-batches` batches (after one compiling pass) with `fit_language_model`,
    whose `train_tokens_per_second` is the wall clock's, and evaluates as many windows with
    `evaluate_perplexity`, timed around the call.
    """
    from lstm_keras.models.language_model import LanguageModel
    from lstm_keras.models.language_modeling.training import DEFAULTS
    from lstm_keras.models.truncated_bptt import evaluate_perplexity
    from lstm_keras.models.truncated_bptt import fit_language_model

    batch, bptt, units = DEFAULTS["batch_size"], DEFAULTS["bptt"], DEFAULTS["units"]
    rows = []
    for vocabulary_size in (int(v) for v in args.vocabularies.split(",")):
        stream = zipf_stream(vocabulary_size, args.throughput_batches * batch * bptt, seed=args.seed)
        for softmax in ("full", "adaptive"):
            model = LanguageModel(vocabulary_size, units, units, DEFAULTS["layers"], batch_size=batch, softmax=softmax)
            model.compile()
            warm = stream[: 2 * batch * bptt]
            fit_language_model(model, warm, bptt=bptt, epochs=1, verbose=0)
            evaluate_perplexity(model, warm, bptt)
            _, stats = fit_language_model(model, stream, bptt=bptt, epochs=1, anneal_factor=None, verbose=0)
            started = time.monotonic()
            evaluate_perplexity(model, stream, bptt)
            evaluation = len(stream) / (time.monotonic() - started)
            rows.append({"vocabulary": vocabulary_size, "softmax": softmax, "cutoffs": model.cutoffs,
                         "parameters": model.count_params(),
                         "train_tokens_per_second": stats["train_tokens_per_second"],
                         "eval_tokens_per_second": round(evaluation, 1)})
            print(f"V={vocabulary_size} {softmax}: train {rows[-1]['train_tokens_per_second']:.0f} tokens/s, "
                  f"evaluation {rows[-1]['eval_tokens_per_second']:.0f} tokens/s", file=sys.stderr, flush=True)
    return rows


def build_classifier(args, label_names):
    """The classifier of the pretraining comparison (the same with and without pretraining)."""
    from lstm_keras.models.classification.text_classifier import TextClassifier

    return TextClassifier(label_names, vocabulary_size=args.classifier_vocab_size, embedding_dim=args.classifier_units,
                          units=args.classifier_units, max_length=64)


def pretraining_gain(args):
    """Test accuracy on `--pretrain-dataset` with and without LM pretraining (same split, same seed)."""
    import numpy as np

    from lstm_keras.datasets.classification import load_classification_data
    from lstm_keras.models.classification.training import evaluate_classifier
    from lstm_keras.models.classification.training import split_validation
    from lstm_keras.models.classification.training import train_classifier

    data = load_classification_data(args.pretrain_dataset, data_dir=args.classification_data_dir, seed=args.seed)
    texts = list(data.train_texts)[: args.train_texts]
    labels = np.asarray(data.train_labels)[: args.train_texts]
    if args.folds:  # every training text, in k folds
        return pretraining_gain_cross_validated(args, data.label_names, texts, labels, {
            "dataset": args.pretrain_dataset, "classifier_epochs": args.classifier_epochs, "lm_epochs": args.pretrain_epochs})
    test_texts, test_labels = data.test_texts, data.test_labels
    if test_texts is None:  # MR: no official split, hold out 10% (stratified, seeded) for testing
        keep, held = split_validation(labels, 0.1, seed=args.seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
    results = {"dataset": args.pretrain_dataset, "train_texts": len(split_validation(labels, 0.1, seed=args.seed)[0]),
               "test_texts": len(test_texts), "classifier_epochs": args.classifier_epochs, "lm_epochs": args.pretrain_epochs}
    for pretrain in (False, True):
        started = time.monotonic()
        folder = os.path.join(f"{args.out}_{args.pretrain_dataset}", "pretrained" if pretrain else "scratch")
        with contextlib.redirect_stdout(sys.stderr):
            classifier, runs = train_classifier(
                lambda: build_classifier(args, data.label_names), texts, labels, folder, seed=args.seed,
                pretrain_lm=args.pretrain_epochs if pretrain else None, epochs=args.classifier_epochs,
                patience=args.classifier_epochs, verbose=2,
            )
        if pretrain:
            results["lm"] = runs[0]["pretraining"]
        report = evaluate_classifier(classifier, test_texts, test_labels)
        key = "pretrained" if pretrain else "scratch"
        results[f"{key}_accuracy"] = round(float(report["accuracy"]), 4)
        results[f"{key}_seconds"] = round(time.monotonic() - started, 1)
    results["gain"] = round(results["pretrained_accuracy"] - results["scratch_accuracy"], 4)
    return results


def pretraining_gain_cross_validated(args, label_names, texts, labels, results):
    """`--folds K`: k-fold cross-validated accuracy from scratch and with LM pretraining in every fold."""
    from lstm_keras.models.classification.training import cross_validate

    results.update({"folds": args.folds, "train_texts": len(texts), "test_texts": None})
    for pretrain in (False, True):
        key = "pretrained" if pretrain else "scratch"
        started = time.monotonic()
        with contextlib.redirect_stdout(sys.stderr):
            cv = cross_validate(lambda: build_classifier(args, label_names), texts, labels, args.folds,
                                f"{args.out}_{args.pretrain_dataset}_cv_{key}", seed=args.seed,
                                pretrain_lm=args.pretrain_epochs if pretrain else None,
                                epochs=args.classifier_epochs, patience=args.classifier_epochs, verbose=0)
        results[f"{key}_accuracy"] = round(cv["accuracy"], 4)
        results[f"{key}_accuracy_std"] = round(cv["accuracy_std"], 4)
        results[f"{key}_fold_accuracies"] = [round(r["accuracy"], 4) for r in cv["fold_reports"]]
        results[f"{key}_seconds"] = round(time.monotonic() - started, 1)
    results["gain"] = round(results["pretrained_accuracy"] - results["scratch_accuracy"], 4)
    return results


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    results = {"device": "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)",
               "keras": keras.__version__, "tensorflow": tf.__version__}
    lines = []
    if args.throughput:
        results["throughput"] = throughput(args)
        print(json.dumps(results), flush=True)
        return
    if not args.skip_ptb:
        ptb = train_ptb(args)
        results["ptb"] = ptb
        lines.append(
            f"PTB ({args.layers}x{args.units} tied, dropout {args.dropout}, bptt {args.bptt}, batch {args.batch_size}): "
            f"valid perplexity {ptb['valid_perplexity']:.1f}, test {ptb['test_perplexity']:.1f} after "
            f"{ptb['train_seconds']} s of training ({ptb['epochs_trained']} epoch(s)); "
            f"{ptb['train_tokens_per_second']:.0f} training tokens/s (an epoch: {ptb['projected_seconds_per_epoch']:.0f} s "
            f"projected); generation {ptb['generation_tokens_per_second']:.0f} tokens/s"
        )
    if args.pretrain_epochs:
        gain = pretraining_gain(args)
        results["pretraining"] = gain
        lines.append(
            f"{gain['dataset']}, {gain['train_texts']} training texts, {gain['classifier_epochs']} classifier epochs: "
            f"accuracy {gain['scratch_accuracy']:.4f} from scratch, {gain['pretrained_accuracy']:.4f} after "
            f"{gain['lm_epochs']} LM epoch(s) (gain {gain['gain']:+.4f})"
        )
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
