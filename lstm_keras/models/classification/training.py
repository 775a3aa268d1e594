"""The `classify train` recipe: training, evaluation and k-fold cross-validation of a `TextClassifier` or an ensemble.

Every training run uses `lstm_keras.training.standard_callbacks` (early stopping on the
validation loss with the best weights restored, best checkpoint, `BackupAndRestore` so that an
interrupted run started again with the same command resumes, CSV history, TensorBoard, optional
time budget) and the classifier's default optimizer (Adam with gradient clipping).
"""

import functools
import json
import math
import os
import time

import keras
import numpy as np

from lstm_keras.datasets.classification import kfold_indices
from lstm_keras.fine_tuning import GradualUnfreezing
from lstm_keras.fine_tuning import LayerwiseAdam
from lstm_keras.fine_tuning import SlantedTriangular
from lstm_keras.datasets.classification import load_classification_data
from lstm_keras.datasets.classification import read_unlabeled_texts
from lstm_keras.io import atomic_path
from lstm_keras.layers.bigram_bag import MAX_BUCKETS
from lstm_keras.io import write_text
from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble
from lstm_keras.models.classification.data import make_text_dataset
from lstm_keras.models.classification.defaults import DEFAULTS
from lstm_keras.models.classification.defaults import EXPORT_SECONDS
from lstm_keras.models.classification.defaults import HOLD_OUT
from lstm_keras.models.classification.defaults import MAX_BUDGET_MEMBERS
from lstm_keras.models.classification.defaults import MEMBER_TIME_MARGIN
from lstm_keras.models.classification.defaults import ULMFIT_PEAK_LEARNING_RATE
from lstm_keras.models.classification.export import export_saved_model
from lstm_keras.models.classification.metrics import classification_report
from lstm_keras.models.classification.metrics import confusion_matrix
from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.plots import plot_heatmap
from lstm_keras.plots import plot_history
from lstm_keras.plots import save_figure
from lstm_keras.saving import seconds_to_export
from lstm_keras.training import Deadline
from lstm_keras.training import TimeBudget
from lstm_keras.training import epochs_completed
from lstm_keras.training import log
from lstm_keras.training import logged_history
from lstm_keras.training import progress_verbosity
from lstm_keras.training import set_seed
from lstm_keras.training import standard_callbacks


# How `fit_classifier` fine-tunes (see its `fine_tuning`).
FINE_TUNINGS = ("plain", "ulmfit")


def split_validation(labels, fraction, seed=0):
    """Splits example indices into training and validation, the same share of each class.

    Args:
        labels: `(n,)` integer labels (or `(n, C)` multi-hot, split without stratification).
        fraction: the share in (0, 1) that goes to validation.
        seed: the random seed.

    Returns:
        `(train_indices, valid_indices)`, sorted int arrays.

    Example:
    >>> train, valid = split_validation([0] * 10 + [1] * 10, 0.2)
    >>> len(train), len(valid)
    (16, 4)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must be in (0, 1), received {fraction!r}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(labels))] if labels.ndim == 2 else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    valid = []
    for group in groups:
        group = rng.permutation(group)
        valid.extend(group[: int(round(fraction * len(group)))])
    valid = np.sort(np.asarray(valid, dtype="int64"))
    train = np.setdiff1d(np.arange(len(labels)), valid)
    if not len(valid) or not len(train):
        raise ValueError(f"{len(labels)} examples are too few to split off {fraction:.0%}: give at least "
                         f"{math.ceil(1 / min(fraction, 1 - fraction))} examples")
    return train, valid


def fit_classifier(
    classifier,
    train_texts,
    train_labels,
    valid_texts,
    valid_labels,
    out_dir,
    epochs=DEFAULTS["epochs"],
    batch_size=DEFAULTS["batch_size"],
    learning_rate=None,
    clipnorm=DEFAULTS["clipnorm"],
    patience=DEFAULTS["patience"],
    time_budget=None,
    seed=0,
    verbose=2,
    bucket_boundaries=None,
    fine_tuning="plain",
):
    """Compiles and trains an adapted classifier with the standard callbacks.

    Args:
        classifier: a `TextClassifier` whose vocabulary is set (`adapt`).
        train_texts, train_labels: the training examples.
        valid_texts, valid_labels: the validation examples (early stopping, checkpoint).
        out_dir: the folder of the callbacks' files (checkpoints, backup, history, logs).
        epochs: the most epochs.
        batch_size: examples per step.
        learning_rate: Adam's learning rate (the peak of the schedule for `"ulmfit"`); None for
            `DEFAULTS["learning_rate"]`, or `ULMFIT_PEAK_LEARNING_RATE` for `"ulmfit"`.
        clipnorm: gradient clipping by norm (None for none).
        patience: epochs without a better validation loss before stopping.
        time_budget: None, or minutes after which training stops.
        seed: the shuffling seed.
        verbose: Keras' `fit` verbosity.
        bucket_boundaries: None, or word counts to batch texts of similar lengths together
            (see `make_text_dataset`).
        fine_tuning: `"plain"` (Adam at `learning_rate` for every layer) or `"ulmfit"` for a
            classifier that starts from pretrained layers: ULMFiT's discriminative rates (each
            group of `classifier.layer_groups()` 2.6 times slower than the one above), gradual
            unfreezing (one more group per epoch) and a slanted triangular schedule peaking at
            `learning_rate` over `epochs` epochs (`lstm_keras.fine_tuning`).

    Returns:
        `(history, seconds_per_epoch)`: the Keras `History` and the mean wall time of an epoch
        (validation included).
    """
    timer = _EpochTimer()
    callbacks = standard_callbacks(out_dir, monitor="val_loss", patience=patience, time_budget=time_budget) + [timer]
    if fine_tuning == "ulmfit":
        learning_rate = learning_rate or ULMFIT_PEAK_LEARNING_RATE
        steps_per_epoch = math.ceil(len(train_texts) / batch_size)
        optimizer = LayerwiseAdam(classifier.layer_groups(), clipnorm=clipnorm,
                                  learning_rate=SlantedTriangular(learning_rate, epochs * steps_per_epoch))
        classifier.compile(optimizer)
        callbacks.append(GradualUnfreezing(optimizer))
    elif fine_tuning == "plain":
        classifier.compile(learning_rate=learning_rate or DEFAULTS["learning_rate"], clipnorm=clipnorm)
    else:
        raise ValueError(f"fine_tuning must be one of {FINE_TUNINGS}, received {fine_tuning!r}")
    history = classifier.fit(
        make_text_dataset(train_texts, train_labels, batch_size, shuffle=True, seed=seed, bucket_boundaries=bucket_boundaries),
        validation_data=make_text_dataset(valid_texts, valid_labels, batch_size, bucket_boundaries=bucket_boundaries),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself
        callbacks=callbacks,
        verbose=verbose,
    )
    return history, timer.seconds_per_epoch


def train_classifier(
    build_classifier, texts, labels, out_dir, members=1, valid_split=DEFAULTS["valid_split"], seed=0,
    embeddings=None, pretrain_lm=None, unlabeled_texts=None, another_member=None, pretrain_objective="next_token",
    **fit_kwargs,
):
    """Trains a classifier, or an ensemble of `members` classifiers, on labelled texts.

    Each member `i` (0-based) is a run of its own with seed `seed + i`: its initial weights,
    its shuffling and its validation split (`valid_split` of `texts`, held out for early stopping)
    come from that seed, so the members of an ensemble differ and, between them, learn from all
    of `texts`. A member learns its vocabulary from its own training part (`adapt`), then
    optionally starts from pretrained vectors and a language model before `fit_classifier`.

    Args:
        build_classifier: a zero-argument callable returning a new `TextClassifier`.
        texts, labels: the training examples (validation shares included).
        out_dir: the folder of the callbacks' files: `out_dir` itself for one member,
            `out_dir/member_<i>/` (1-based) for several.
        members: the number of classifiers (1: a `TextClassifier`; more: a `ClassifierEnsemble`).
        valid_split: the validation share of `texts`, in (0, 1).
        seed: the seed of the first member.
        embeddings: None, or a file of pretrained vectors every member starts from
            (`TextClassifier.load_embeddings`).
        pretrain_lm: None, or the epochs of a language model trained on each member's training
            texts first (`pretrain_classifier_from_lm`; unidirectional classifiers).
        unlabeled_texts: None, or more texts for that language model (after the training texts;
            the vocabulary stays the training texts').
        pretrain_objective: what that language model learns: `"next_token"` or `"autoencoder"`
            (Dai & Le's sequence autoencoder; `pretrain_classifier_from_lm`).
        another_member: None, or a function `another_member(runs, classifiers) -> bool` asked once the
            `members` are trained, and after every further member: whether to train one more
            (`classify train` grows an ensemble within its time budget so). Every member then has
            its own folder, the first one `out_dir` itself, and the first member's vocabulary (so
            that the ensemble reads one sequence of token ids, as LiteRT and ONNX exports need).
        **fit_kwargs: `fit_classifier` arguments (epochs, batch size, time budget, ...).

    Returns:
        `(classifier, runs)`: the trained `TextClassifier` or `ClassifierEnsemble`, and one dict
        per member: `seed`, `dir` (its callbacks' folder), `history` (Keras `History`),
        `seconds_per_epoch`, `seconds` (the member's wall time, `adapt` to the end of `fit`),
        `embeddings` (the coverage dict of `load_embeddings`, or None) and `pretraining` (the
        summary of `pretrain_classifier_from_lm`, or None).
    """
    if not isinstance(members, int) or members < 1:
        raise ValueError(f"members must be a positive int, received {members!r}")
    labels = np.asarray(labels)
    texts = list(texts)
    classifiers, runs = [], []
    member = 0
    while member < members or (another_member is not None and another_member(runs, classifiers)):
        started = time.monotonic()
        member_seed = seed + member
        set_seed(member_seed)
        fit_index, valid_index = split_validation(labels, valid_split, seed=member_seed)
        fit_texts, valid_texts = [texts[i] for i in fit_index], [texts[i] for i in valid_index]
        classifier = build_classifier()
        if another_member is not None and classifiers:
            classifier.set_vocabulary(classifiers[0].vocabulary)  # one vocabulary: the ensemble exports to LiteRT
        else:
            classifier.adapt(fit_texts)
        separate = members > 1 and another_member is None
        member_dir = os.path.join(out_dir, f"member_{member + 1}") if separate or member else out_dir
        run = {"seed": member_seed, "dir": member_dir, "embeddings": None, "pretraining": None}
        if embeddings:
            run["embeddings"] = classifier.load_embeddings(embeddings)
        if pretrain_lm:
            from lstm_keras.models.classification.pretraining import pretrain_classifier_from_lm

            run["pretraining"] = pretrain_classifier_from_lm(
                classifier, fit_texts + list(unlabeled_texts or []), pretrain_lm, valid_texts=valid_texts,
                time_budget=fit_kwargs.get("time_budget"), objective=pretrain_objective, seed=member_seed,
            )
        run["history"], run["seconds_per_epoch"] = fit_classifier(
            classifier, fit_texts, labels[fit_index], valid_texts, labels[valid_index], member_dir,
            seed=member_seed, **fit_kwargs,
        )
        run["seconds"] = time.monotonic() - started
        classifiers.append(classifier)
        runs.append(run)
        member += 1
    if len(classifiers) == 1:
        return classifiers[0], runs
    return ClassifierEnsemble(classifiers), runs


def evaluate_classifier(classifier, texts, labels, out_dir=None, history=None, threshold=0.5):
    """The evaluation report of a classifier, with its confusion matrix and training curves.

    Args:
        classifier: a trained `TextClassifier` or `ClassifierEnsemble`.
        texts, labels: the test examples (integer labels, multi-hot for "multi_label").
        out_dir: None, or a folder for `confusion_matrix.png` (not for "multi_label") and, with
            `history`, `training_curves.png` (written atomically).
        history: the `History` of the training run, or None.
        threshold: the decision threshold of a "multi_label" head.

    Returns:
        The dict of `classification_report` (accuracy, macro-F1, per-class precision / recall /
        F1), plus `confusion_matrix` (a nested list) for single-label heads.
    """
    probabilities = classifier.predict_proba(texts)  # (n, C)
    if classifier.head == "multi_label":
        predictions = (probabilities >= threshold).astype("int64")  # (n, C)
    else:
        predictions = np.argmax(probabilities, axis=-1)  # (n,)
    report = classification_report(labels, predictions, classifier.label_names)
    if classifier.head != "multi_label":
        matrix = confusion_matrix(labels, predictions, classifier.num_classes)
        report["confusion_matrix"] = matrix.tolist()
        if out_dir is not None:
            figure = plot_heatmap(
                matrix, classifier.label_names, classifier.label_names, title="confusion matrix (test)",
                x_title="predicted", y_title="true",
            )
            for (row, column), count in np.ndenumerate(matrix):  # the counts written in the cells
                figure.axes[0].text(column, row, str(count), ha="center", va="center", color="grey")
            save_figure(figure, os.path.join(out_dir, "confusion_matrix.png"))
            _close(figure)
    if out_dir is not None and history is not None and history.history:
        _close(plot_history(logged_history(out_dir, history), os.path.join(out_dir, "training_curves.png"),
                            metrics=["loss", "accuracy"]))
    return report


def cross_validate(build_classifier, texts, labels, folds, out_dir, seed=0, **train_kwargs):
    """k-fold cross-validation: a fresh classifier (or ensemble) trained and tested on each fold.

    The folds come from `kfold_indices` (stratified by label for single-label data); each
    fold's training part is trained on with `train_classifier` (seed `seed + fold`, which holds
    out its own validation share for early stopping) and writes its callbacks' files under
    `out_dir/fold_<i>/` (so an interrupted fold resumes).

    Args:
        build_classifier: a zero-argument callable returning a new `TextClassifier`.
        texts, labels: all examples.
        folds: the number of folds k.
        out_dir: the folder of the folds' files.
        seed: the seed of the folds and of each fold's training.
        **train_kwargs: `train_classifier` arguments: `members`, `valid_split`, `embeddings`,
            `pretrain_lm` (a language model trained on each fold's own training texts first, so
            the cross-validated accuracy is that of the pretrained classifier) and the
            `fit_classifier` ones (epochs, batch size, ...).

    Returns:
        A dict: `accuracy` and `macro_f1` (means over the folds), `accuracy_std`, `macro_f1_std`,
        `seconds_per_epoch` (mean), `folds` (k) and `fold_reports` (one report per fold).
    """
    labels = np.asarray(labels)
    texts = list(texts)
    stratify = labels if labels.ndim == 1 else None
    reports, epoch_times = [], []
    for fold, (train_index, test_index) in enumerate(kfold_indices(len(texts), folds, seed=seed, labels=stratify), start=1):
        classifier, runs = train_classifier(
            build_classifier, [texts[i] for i in train_index], labels[train_index],
            os.path.join(out_dir, f"fold_{fold}"), seed=seed + fold, **train_kwargs,
        )
        reports.append(evaluate_classifier(classifier, [texts[i] for i in test_index], labels[test_index]))
        epoch_times.extend(run["seconds_per_epoch"] for run in runs)
        keras.utils.clear_session(free_memory=True)
    accuracy = np.array([r["accuracy"] for r in reports])
    macro_f1 = np.array([r["macro_f1"] for r in reports])
    return {
        "accuracy": float(accuracy.mean()),
        "accuracy_std": float(accuracy.std()),
        "macro_f1": float(macro_f1.mean()),
        "macro_f1_std": float(macro_f1.std()),
        "seconds_per_epoch": float(np.mean(epoch_times)),
        "folds": folds,
        "fold_reports": reports,
    }


class _EpochTimer(keras.callbacks.Callback):
    """Measures the wall time of each epoch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    @property
    def seconds_per_epoch(self):
        return float(np.mean(self.times)) if self.times else 0.0


def _close(figure):
    import matplotlib.pyplot as plt

    plt.close(figure)


def train_text_classifier(config, out):
    """Trains, tests and exports a classifier as `classify train`'s arguments `config` say, writing under `out`.

    Loads the data set, holds out a test share if it has no test split (and no `folds`),
    optionally tunes (`tune` trials), cross-validates (`folds`) and pretrains (`pretrain_lm`),
    trains the final classifier or ensemble (`ensemble` members), tests it and writes
    `model.keras`, `saved_model/`, the plots and `metrics.json`.

    Returns:
        The metrics dict.
    """
    if config.stop_words and not os.path.isfile(config.stop_words):
        raise FileNotFoundError(f"--stop-words file not found: {config.stop_words}")
    if config.embeddings and not os.path.isfile(config.embeddings):
        raise FileNotFoundError(f"--embeddings file not found: {config.embeddings}")
    if config.unlabeled and not config.pretrain_lm:
        raise ValueError("--unlabeled is text for the language-model pretraining: give --pretrain-lm EPOCHS too")
    if config.pretrain_objective != "next_token" and not config.pretrain_lm:
        raise ValueError(f"--pretrain-objective {config.pretrain_objective} is the objective of --pretrain-lm: "
                         "give --pretrain-lm EPOCHS too")
    if config.fine_tune == "ulmfit" and not (config.pretrain_lm or config.embeddings):
        raise ValueError("--fine-tune ulmfit fine-tunes pretrained layers: give --pretrain-lm EPOCHS or --embeddings")
    if config.pretrain_lm and config.bidirectional:
        raise ValueError("--pretrain-lm needs a unidirectional classifier (a language model reads left to right): "
                         "drop --bidirectional")
    unlabeled = read_unlabeled_texts(config.unlabeled) if config.unlabeled else None
    deadline = Deadline(config.time_budget)
    set_seed(config.seed)
    log("classify", f"loading {config.dataset}")
    data = load_classification_data(config.dataset, data_dir=config.data_dir, test=_test_argument(config.test),
                                   seed=config.seed, header=config.header)
    texts, labels = list(data.train_texts), np.asarray(data.train_labels)
    test_texts, test_labels = data.test_texts, data.test_labels
    metrics = {"dataset": str(config.dataset), "label_names": data.label_names, "cell": config.cell}
    if config.pretrain_lm or config.embeddings:
        metrics["fine_tuning"] = config.fine_tune
    if test_texts is None and not config.folds:
        keep, held = split_validation(labels, HOLD_OUT, seed=config.seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
        log("classify", f"{config.dataset} has no test split: holding out {len(held)} examples ({HOLD_OUT:.0%}) "
                        "for testing")
    metrics["evaluation"] = "test" if test_texts is not None else f"{config.folds}-fold cross-validation"

    model_kwargs = classifier_options(config)
    test_size = len(test_texts) if test_texts is not None else 0
    # With a budget and no --ensemble (nor --folds, --tune): members are added while they fit.
    grows = bool(deadline) and config.ensemble is None and not config.folds and not config.tune
    growth = {"members": 1, "export_seconds": None, "stopped_growing": None}  # see `_another_member`
    fit_kwargs = {
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "clipnorm": config.clipnorm or None,
        "patience": config.patience,
        "time_budget": run_budget(deadline, config, test_size, members=lambda: growth["members"]),
        "verbose": progress_verbosity(),
        "fine_tuning": config.fine_tune,
    }
    fit_index, valid_index = split_validation(labels, config.valid_split, seed=config.seed)
    fit_texts, valid_texts = [texts[i] for i in fit_index], [texts[i] for i in valid_index]

    if config.tune:
        from lstm_keras.models.classification.tuning import tune_classifier  # imports KerasTuner

        search = tune_classifier(
            data.label_names, fit_texts, labels[fit_index], valid_texts, labels[valid_index], config.tune,
            os.path.join(out, "tuning"), model_kwargs=model_kwargs, epochs=config.epochs,
            batch_size=config.batch_size, patience=config.patience, time_budget=fit_kwargs["time_budget"],
            seed=config.seed,
            embeddings=config.embeddings,
        )
        best = search["best"]
        log("classify", f"tuning: best of {len(search['trials'])} trials {best} "
                        f"(val_accuracy {search['best_val_accuracy']:.4f})")
        model_kwargs.update({key: best[key] for key in ("gating", "units", "num_layers", "dropout")})
        fit_kwargs["learning_rate"] = best["learning_rate"]
        write_text(os.path.join(out, "tuning.json"), json.dumps(search, indent=1))
        metrics["tuned"] = best

    def build_classifier():
        return TextClassifier(data.label_names, **model_kwargs)

    if config.folds:
        cv = cross_validate(
            build_classifier, texts, labels, config.folds, os.path.join(out, "folds"), seed=config.seed,
            members=config.ensemble or 1, valid_split=config.valid_split, embeddings=config.embeddings,
            pretrain_lm=config.pretrain_lm, unlabeled_texts=unlabeled, pretrain_objective=config.pretrain_objective,
            **fit_kwargs,
        )
        write_text(os.path.join(out, "cross_validation.json"), json.dumps(cv, indent=1))
        metrics.update({f"cv_{key}": cv[key] for key in ("accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "folds")})
        log("classify", f"{config.folds}-fold cross-validation: accuracy {cv['accuracy']:.4f} "
                        f"± {cv['accuracy_std']:.4f}")

    # The final model: trained on the training data, less the validation share (of each member).
    another_member = functools.partial(
        _another_member, deadline=deadline, time_budget=fit_kwargs["time_budget"], test_size=test_size,
        batch_size=config.batch_size, growth=growth) if grows else None
    classifier, runs = train_classifier(
        build_classifier, texts, labels, out, members=config.ensemble or 1, valid_split=config.valid_split,
        seed=config.seed, embeddings=config.embeddings, pretrain_lm=config.pretrain_lm, unlabeled_texts=unlabeled,
        pretrain_objective=config.pretrain_objective, another_member=another_member, **fit_kwargs,
    )
    summaries = []
    for number, run in enumerate(runs, start=1):
        summary = {"seed": run["seed"], "epochs_trained": epochs_completed(run["history"]),
                   "seconds_per_epoch": run["seconds_per_epoch"]}
        member = f"member {number} (seed {run['seed']}): " if len(runs) > 1 else ""
        if run["embeddings"]:
            summary["embeddings_oov_rate"] = run["embeddings"]["oov_rate"]
            log("classify", f"{member}pretrained embeddings: {run['embeddings']['found']} of "
                            f"{run['embeddings']['vocabulary']} tokens found, out-of-vocabulary rate "
                            f"{run['embeddings']['oov_rate']:.2%}")
        if run["pretraining"]:
            summary["pretraining"] = run["pretraining"]
            log("classify", f"{member}language-model pretraining: {run['pretraining']['lm_epochs']} epochs, "
                            f"training perplexity {run['pretraining']['lm_train_perplexity']:.2f}")
        if run["history"].history:  # empty when a resumed run had no epoch left
            plot_history(logged_history(run["dir"], run["history"]), os.path.join(run["dir"], "training_curves.png"),
                         metrics=["loss", "accuracy"])
        summaries.append(summary)
    if len(runs) == 1:
        metrics.update(summaries[0])
    else:
        metrics["members"] = summaries
        metrics["seconds_per_epoch"] = float(np.mean([summary["seconds_per_epoch"] for summary in summaries]))
    if grows:
        metrics["budget"] = {"minutes": config.time_budget, "spent_on": f"an ensemble of {len(runs)}",
                             "member_seconds": [round(run["seconds"], 1) for run in runs],
                             "stopped_growing": growth["stopped_growing"]}
    if test_texts is not None:
        log("classify", f"testing on {len(test_texts)} texts")
        report = evaluate_classifier(classifier, test_texts, test_labels, out_dir=out)
        metrics = {"accuracy": report.pop("accuracy"), "macro_f1": report.pop("macro_f1"), **metrics, **report}
    else:
        metrics = {"accuracy": metrics["cv_accuracy"], "macro_f1": metrics["cv_macro_f1"], **metrics}

    with atomic_path(os.path.join(out, "model.keras")) as tmp:
        classifier.save(tmp)
    export_saved_model(classifier, os.path.join(out, "saved_model"))
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def run_budget(deadline, config, test_size, members=lambda: 1):
    """The `TimeBudget` every training run of `classify train` shares: tuning trials, folds, members, pretraining.

    The command's deadline is shared by its runs one after the other (`Deadline.runs`), with
    `EXPORT_SECONDS` kept for saving and exporting the final model; each run also keeps the time
    the test evaluation will take at the measured speed, for `members()` members (the size of
    the final model once the run being trained is done). A run must complete an epoch: a
    budget too small for the first one is an error a few batches into it (`whole_epoch`).
    """
    per_member = 1 + bool(config.pretrain_lm)
    runs = (config.tune or 0) + ((config.folds or 0) + 1) * (config.ensemble or 1) * per_member
    test_batches = math.ceil(test_size / config.batch_size)
    return TimeBudget(deadline.runs(runs, reserve=EXPORT_SECONDS),
                      reserve=lambda speeds: members() * test_batches * speeds.eval_batch, whole_epoch=True)


def _another_member(runs, classifiers, deadline, time_budget, test_size, batch_size, growth):
    """Whether the budget lets an ensemble grown by `classify train` take one more member (see `DEFAULTS`).

    Once the first member has converged within its budget (early stopping, not the deadline),
    another member is trained if the time left covers `MEMBER_TIME_MARGIN` times the slowest
    member so far, plus the test evaluation and export of the larger ensemble (each member's
    measured: the evaluation at the validation speed, the export timed once on the first
    member) and `EXPORT_SECONDS`. Records why it stopped growing in `growth["stopped_growing"]`
    and the next size in `growth["members"]` (the `TimeBudget`'s reserve reads it).
    """
    if growth["export_seconds"] is None:
        growth["export_seconds"] = seconds_to_export(export_saved_model, classifiers[0])
    size = len(runs) + 1
    per_member = math.ceil(test_size / batch_size) * time_budget.speeds.eval_batch + growth["export_seconds"]
    needed = MEMBER_TIME_MARGIN * max(run["seconds"] for run in runs) + size * per_member + EXPORT_SECONDS
    if time_budget.stopped:
        growth["stopped_growing"] = "the deadline stopped a member's training: more epochs, not members, would help"
    elif len(runs) >= MAX_BUDGET_MEMBERS:
        growth["stopped_growing"] = f"at the most members a budget grows ({MAX_BUDGET_MEMBERS})"
    elif deadline.remaining() < needed:
        growth["stopped_growing"] = (f"{deadline.remaining():.0f} s left, {needed:.0f} s needed for member {size} "
                                     "and the larger ensemble's evaluation and export")
    else:
        growth["members"] = size
        log("classify", f"member {size - 1} converged in {runs[-1]['seconds']:.0f} s; {deadline.remaining():.0f} s "
                        f"left: training member {size} (seed {runs[0]['seed'] + size - 1})")
        return True
    log("classify", f"{len(runs)} member(s): {growth['stopped_growing']}")
    return False


def classifier_options(config):
    """The `TextClassifier` arguments of `classify train`'s arguments (the stop words read from their file)."""
    stop_words = None
    if config.stop_words:
        with open(config.stop_words, encoding="utf-8", errors="replace") as f:
            stop_words = [line.strip() for line in f if line.strip()]
    return {
        "gating": config.gating,
        "cell": config.cell,
        "bidirectional": config.bidirectional,
        "units": config.units,
        "num_layers": config.layers,
        "pooling": config.pooling,
        "dropout": config.dropout,
        "word_dropout": config.word_dropout,
        "bigram_buckets": min(config.vocab_size, MAX_BUCKETS) if config.bigram_buckets is None else config.bigram_buckets,
        "embedding_dim": config.embedding_dim,
        "embedding_trainable": not config.freeze_embeddings,
        "vocabulary_size": config.vocab_size,
        "max_length": config.max_length,
        "truncation": config.truncation,
        "lowercase": not config.no_lowercase,
        "strip_punctuation": not config.keep_punctuation,
        "stop_words": stop_words,
        "tokenizer": config.tokenizer,
    }


def _test_argument(value):
    """`--test`: a path, or a fraction to hold out."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value
