"""`lstm-keras classify train | predict`: text classification with gated LSTMs.

`train` loads a data set (`imdb`, `mr`, `reviews`, a `label<TAB>text` file or a folder of class
sub-folders), optionally searches hyperparameters (`--tune`) and cross-validates (`--folds`),
trains a `TextClassifier` with the standard callbacks (or, with `--ensemble K`, K of them from
consecutive seeds, whose probabilities a `ClassifierEnsemble` averages), evaluates it on the test
split and writes under `--out`: `model.keras`, `saved_model/` (serving signature on raw strings),
`confusion_matrix.png`, `training_curves.png`, `metrics.json`, plus the callbacks'
`checkpoints/`, `history.csv` and `logs/` (for an ensemble, the curves and callbacks' files of
member i are in `member_<i>/`). The run is staged in `OUT/.in_progress/` and replaces
`--out`'s earlier contents only when complete (`run_staged_training`): a failing or killed run
leaves them as they were, and the same command started again resumes from the last completed
epoch (`BackupAndRestore`). `--strategy` trains on several GPUs or machines
(`lstm_keras.distribute`). The final test metrics are printed as one JSON line on stdout;
progress goes to stderr.

`predict` classifies texts given as arguments, or one a line on stdin, with the SavedModel of a
`train` output folder, and prints one line per text: the label, a tab and its probability.
"""

import argparse
import inspect
import json
import os
import sys

from lstm_keras.commands.arguments import add_strategy_argument
from lstm_keras.commands.arguments import fraction
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import log
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.layers.gating import VARIANTS

# Data sets without a test split (and no --folds) are evaluated on this held-out share.
HOLD_OUT = 0.1
PREDICT_BATCH_SIZE = 256


def register(subparsers):
    """Adds the `classify` group with its `train` and `predict` sub-commands."""
    from lstm_keras.models.classification_training import DEFAULTS
    from lstm_keras.models.text_classifier import POOLINGS, TOKENIZERS, TextClassifier

    model_defaults = {
        name: p.default for name, p in inspect.signature(TextClassifier.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    group = subparsers.add_parser("classify", help="text classification with gated LSTMs", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train, evaluate and export a classifier",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True,
                      help="imdb, mr, reviews, a label<TAB>text file or a folder of class sub-folders")
    data.add_argument("--data-dir", help="a folder with local copies of imdb / mr (nothing is downloaded)")
    data.add_argument("--test", help="a test TSV or folder, or a fraction to hold out, for data sets without a "
                                     f"test split (default for those: hold out {HOLD_OUT:g}, or --folds)")
    data.add_argument("--valid-split", type=fraction, default=DEFAULTS["valid_split"],
                      help="share of the training data used for validation (early stopping)")
    data.add_argument("--folds", type=int_at_least(2), help="k-fold cross-validation on the training data")
    model = train.add_argument_group("model (defaults: TextClassifier's)")
    model.add_argument("--gating", choices=tuple(VARIANTS), default=model_defaults["gating"], help="gating preset")
    model.add_argument("--bidirectional", action="store_true", help="bidirectional LSTM layers")
    model.add_argument("--units", type=int_at_least(1), default=model_defaults["units"], help="units per LSTM layer (per direction)")
    model.add_argument("--layers", type=int_at_least(1), default=model_defaults["num_layers"], help="stacked LSTM layers")
    model.add_argument("--pooling", choices=POOLINGS, default=model_defaults["pooling"], help="LSTM outputs to one vector")
    model.add_argument("--dropout", type=float, default=model_defaults["dropout"], help="on embeddings and pooled vector")
    model.add_argument("--word-dropout", type=float, default=model_defaults["word_dropout"],
                       help="share of whole tokens dropped in training")
    model.add_argument("--embedding-dim", type=int_at_least(1), default=model_defaults["embedding_dim"], help="embedding size")
    model.add_argument("--embeddings", help="pretrained vectors (GloVe / word2vec text format) to start from")
    model.add_argument("--freeze-embeddings", action="store_true", help="keep the embeddings fixed")
    model.add_argument("--vocab-size", type=int_at_least(3), default=model_defaults["vocabulary_size"],
                       help="vocabulary size, padding and [UNK] included")
    model.add_argument("--max-length", type=int_at_least(1), default=model_defaults["max_length"],
                       help="tokens read per text; longer texts are truncated (see --truncation)")
    model.add_argument("--truncation", choices=("post", "pre"), default=model_defaults["truncation"],
                       help="post: keep the first --max-length tokens; pre: keep the last ones")
    model.add_argument("--no-lowercase", action="store_true", help="keep the case")
    model.add_argument("--keep-punctuation", action="store_true", help="do not strip punctuation")
    model.add_argument("--stop-words", help="a file of stop words to remove, one a line")
    model.add_argument("--tokenizer", choices=TOKENIZERS, default=model_defaults["tokenizer"],
                       help="split on whitespace, or with TensorFlow Text's UnicodeScriptTokenizer (punctuation and "
                            "changes of script split words too)")
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"], help="most epochs (early stopping)")
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"], help="texts per step")
    training.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"], help="Adam's learning rate")
    training.add_argument("--clipnorm", type=float, default=DEFAULTS["clipnorm"], help="gradient clipping; 0 for none")
    training.add_argument("--patience", type=int_at_least(1), default=DEFAULTS["patience"],
                          help="epochs without a better validation loss before stopping")
    training.add_argument("--time-budget", type=float, help="minutes per training run (each fold, each trial)")
    training.add_argument("--seed", type=int, default=0, help="seed of the weights, splits and shuffling")
    training.add_argument("--tune", type=int_at_least(1), metavar="TRIALS",
                          help="search gating, units, layers, dropout and learning rate first (KerasTuner)")
    training.add_argument("--pretrain-lm", type=int_at_least(1), metavar="EPOCHS",
                          help="train a language model on the training texts first and start the model (and, with "
                               "--folds, every fold's model, from its own training texts) from its embedding and LSTM "
                               "weights (unidirectional models)")
    training.add_argument("--ensemble", type=int_at_least(1), default=1, metavar="K",
                          help="train K classifiers (seeds --seed ... --seed+K-1, each with its own validation split) "
                               "and average their probabilities; with --folds, K per fold")
    add_strategy_argument(training)
    train.add_argument("--out", required=True, help="the output folder")
    train.set_defaults(handler=run_train)

    predict = commands.add_parser("predict", help="classify texts with a trained model")
    predict.add_argument("--model", required=True, help="the --out folder of `classify train`")
    predict.add_argument("texts", nargs="*", help="texts to classify (default: one a line on stdin)")
    predict.set_defaults(handler=run_predict)


def run_train(args):
    """Runs `classify train` (staged, resumable); prints the final metrics as one JSON line."""
    return run_staged_training(train, args, "classify")


def train(args, out):
    """The `train` pipeline, writing everything under `out`; returns the metrics dict."""
    import numpy as np

    from lstm_keras.datasets.classification import load_classification_data
    from lstm_keras.io import atomic_path, write_text
    from lstm_keras.models.classification_export import export_saved_model
    from lstm_keras.models.classification_training import (
        cross_validate, evaluate_classifier, split_validation, train_classifier,
    )
    from lstm_keras.models.text_classifier import TextClassifier
    from lstm_keras.plots import plot_history
    from lstm_keras.training import epochs_completed
    from lstm_keras.training import set_seed

    for option, rate in (("--dropout", args.dropout), ("--word-dropout", args.word_dropout)):
        if not 0 <= rate < 1:
            raise ValueError(f"{option} must be in [0, 1), received {rate}")
    if args.stop_words and not os.path.isfile(args.stop_words):
        raise FileNotFoundError(f"--stop-words file not found: {args.stop_words}")
    if args.embeddings and not os.path.isfile(args.embeddings):
        raise FileNotFoundError(f"--embeddings file not found: {args.embeddings}")
    set_seed(args.seed)
    data = load_classification_data(args.dataset, data_dir=args.data_dir, test=_test_argument(args.test), seed=args.seed)
    texts, labels = list(data.train_texts), np.asarray(data.train_labels)
    test_texts, test_labels = data.test_texts, data.test_labels
    metrics = {"dataset": str(args.dataset), "label_names": data.label_names}
    if test_texts is None and not args.folds:
        keep, held = split_validation(labels, HOLD_OUT, seed=args.seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
        _log(f"{args.dataset} has no test split: holding out {len(held)} examples ({HOLD_OUT:.0%}) for testing")
    metrics["evaluation"] = "test" if test_texts is not None else f"{args.folds}-fold cross-validation"

    model_kwargs = _model_kwargs(args)
    fit_kwargs = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "clipnorm": args.clipnorm or None,
        "patience": args.patience,
        "time_budget": args.time_budget,
    }
    fit_index, valid_index = split_validation(labels, args.valid_split, seed=args.seed)
    fit_texts, valid_texts = [texts[i] for i in fit_index], [texts[i] for i in valid_index]

    if args.tune:
        from lstm_keras.models.tuning import tune_classifier

        search = tune_classifier(
            data.label_names, fit_texts, labels[fit_index], valid_texts, labels[valid_index], args.tune,
            os.path.join(out, "tuning"), model_kwargs=model_kwargs, epochs=args.epochs,
            batch_size=args.batch_size, patience=args.patience, time_budget=args.time_budget, seed=args.seed,
            embeddings=args.embeddings,
        )
        best = search["best"]
        _log(f"tuning: best of {len(search['trials'])} trials {best} (val_accuracy {search['best_val_accuracy']:.4f})")
        model_kwargs.update({key: best[key] for key in ("gating", "units", "num_layers", "dropout")})
        fit_kwargs["learning_rate"] = best["learning_rate"]
        write_text(os.path.join(out, "tuning.json"), json.dumps(search, indent=1))
        metrics["tuned"] = best

    def build_classifier():
        return TextClassifier(data.label_names, **model_kwargs)

    if args.folds:
        cv = cross_validate(
            build_classifier, texts, labels, args.folds, os.path.join(out, "folds"), seed=args.seed,
            members=args.ensemble, valid_split=args.valid_split, embeddings=args.embeddings,
            pretrain_lm=args.pretrain_lm, **fit_kwargs,
        )
        write_text(os.path.join(out, "cross_validation.json"), json.dumps(cv, indent=1))
        metrics.update({f"cv_{key}": cv[key] for key in ("accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "folds")})
        _log(f"{args.folds}-fold cross-validation: accuracy {cv['accuracy']:.4f} ± {cv['accuracy_std']:.4f}")

    # The final model: trained on the training data, less the validation share (of each member).
    classifier, runs = train_classifier(
        build_classifier, texts, labels, out, members=args.ensemble, valid_split=args.valid_split, seed=args.seed,
        embeddings=args.embeddings, pretrain_lm=args.pretrain_lm, **fit_kwargs,
    )
    summaries = []
    for number, run in enumerate(runs, start=1):
        summary = {"seed": run["seed"], "epochs_trained": epochs_completed(run["history"]),
                   "seconds_per_epoch": run["seconds_per_epoch"]}
        member = f"member {number} (seed {run['seed']}): " if len(runs) > 1 else ""
        if run["embeddings"]:
            summary["embeddings_oov_rate"] = run["embeddings"]["oov_rate"]
            _log(f"{member}pretrained embeddings: {run['embeddings']['found']} of {run['embeddings']['vocabulary']} "
                 f"tokens found, out-of-vocabulary rate {run['embeddings']['oov_rate']:.2%}")
        if run["pretraining"]:
            summary["pretraining"] = run["pretraining"]
            _log(f"{member}language-model pretraining: {run['pretraining']['lm_epochs']} epochs, "
                 f"training perplexity {run['pretraining']['lm_train_perplexity']:.2f}")
        if run["history"].history:  # empty when a resumed run had no epoch left
            curves_dir = out if len(runs) == 1 else os.path.join(out, f"member_{number}")
            plot_history(run["history"], os.path.join(curves_dir, "training_curves.png"), metrics=["loss", "accuracy"])
        summaries.append(summary)
    if len(runs) == 1:
        metrics.update(summaries[0])
    else:
        metrics["members"] = summaries
        metrics["seconds_per_epoch"] = float(np.mean([summary["seconds_per_epoch"] for summary in summaries]))
    if test_texts is not None:
        report = evaluate_classifier(classifier, test_texts, test_labels, out_dir=out)
        metrics = {"accuracy": report.pop("accuracy"), "macro_f1": report.pop("macro_f1"), **metrics, **report}
    else:
        metrics = {"accuracy": metrics["cv_accuracy"], "macro_f1": metrics["cv_macro_f1"], **metrics}

    with atomic_path(os.path.join(out, "model.keras")) as tmp:
        classifier.save(tmp)
    export_saved_model(classifier, os.path.join(out, "saved_model"))
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def run_predict(args):
    """Runs `classify predict`: one `label<TAB>probability` line per text."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops of a tokenizer="unicode_script" classifier)

    saved_model = os.path.join(args.model, "saved_model")
    for required in (args.model, os.path.join(saved_model, "saved_model.pb")):
        if not os.path.exists(required):
            raise FileNotFoundError(f"model folder {args.model!r} is incomplete: {required} not found "
                                    "(expected the --out folder of `lstm-keras classify train`)")
    # Arguments back to their original bytes (undecodable ones included); stdin as bytes.
    texts = [os.fsencode(text) for text in args.texts] if args.texts else sys.stdin.buffer.read().splitlines()
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    for start in range(0, len(texts), PREDICT_BATCH_SIZE):
        outputs = serve(texts=tf.constant(texts[start:start + PREDICT_BATCH_SIZE], dtype=tf.string))
        for label, probability in zip(outputs["label"].numpy(), outputs["probability"].numpy()):
            print(f"{label.decode('utf-8', 'replace')}\t{probability:.4f}", flush=False)
    sys.stdout.flush()
    return 0


def _model_kwargs(args):
    stop_words = None
    if args.stop_words:
        with open(args.stop_words, encoding="utf-8", errors="replace") as f:
            stop_words = [line.strip() for line in f if line.strip()]
    return {
        "gating": args.gating,
        "bidirectional": args.bidirectional,
        "units": args.units,
        "num_layers": args.layers,
        "pooling": args.pooling,
        "dropout": args.dropout,
        "word_dropout": args.word_dropout,
        "embedding_dim": args.embedding_dim,
        "embedding_trainable": not args.freeze_embeddings,
        "vocabulary_size": args.vocab_size,
        "max_length": args.max_length,
        "truncation": args.truncation,
        "lowercase": not args.no_lowercase,
        "strip_punctuation": not args.keep_punctuation,
        "stop_words": stop_words,
        "tokenizer": args.tokenizer,
    }


def _test_argument(value):
    """`--test`: a path, or a fraction to hold out."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _log(message):
    log("classify", message)
