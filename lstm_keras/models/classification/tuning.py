"""Hyperparameter search for `TextClassifier` with KerasTuner (`lstm-keras classify train --tune TRIALS`).

The search picks the gating preset, the LSTM units, the number of layers, the dropout rate and
the learning rate by random search on the validation accuracy; everything else (vocabulary,
standardisation, pooling, bidirectionality, ...) stays as given. The vocabulary is learned once
and shared by every trial. The best values then go through the ordinary training path.
"""

import keras
import keras_tuner

from lstm_keras.layers.gating import VARIANTS
from lstm_keras.models.classification.data import make_text_dataset
from lstm_keras.models.classification.defaults import DEFAULTS
from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.training import TimeBudget

# The default search space: choices for each hyperparameter, a (low, high) range for the
# learning rate (sampled log-uniformly).
SEARCH_SPACE = {
    "gating": tuple(VARIANTS),
    "units": (32, 64, 128),
    "num_layers": (1, 2),
    "dropout": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    "learning_rate": (1e-4, 1e-2),
}


class ClassifierHyperModel(keras_tuner.HyperModel):
    """Builds and compiles a `TextClassifier` from a trial's hyperparameters.

    Args:
        label_names: the class names.
        vocabulary: the vocabulary every trial's classifier gets (`TextClassifier.vocabulary`).
        model_kwargs: the fixed `TextClassifier` arguments; the searched ones override them.
        search_space: the choices, keyed as `SEARCH_SPACE` (missing keys take its defaults).
        clipnorm: gradient clipping of the optimizer.
        embedding_matrix: None, or the initial embeddings `(vocabulary_size, embedding_dim)` of
            every trial (e.g. pretrained vectors, see `TextClassifier.load_embeddings`).
        **kwargs: `keras_tuner.HyperModel` arguments.

    Example:
    >>> hypermodel = ClassifierHyperModel(["neg", "pos"], ["good", "bad"], {"embedding_dim": 8},
    ...                                   {"gating": ["cifg"], "units": [4], "num_layers": [1]})
    >>> classifier = hypermodel.build(keras_tuner.HyperParameters())
    >>> classifier.gating, classifier.units, classifier.vocabulary
    ('cifg', 4, ['', '[UNK]', 'good', 'bad'])
    """

    def __init__(
        self, label_names, vocabulary, model_kwargs=None, search_space=None, clipnorm=DEFAULTS["clipnorm"],
        embedding_matrix=None, **kwargs,
    ):
        super().__init__(**kwargs)
        unknown = sorted(set(search_space or {}) - set(SEARCH_SPACE))
        if unknown:
            raise ValueError(f"unknown hyperparameters in search_space: {unknown}; allowed: {sorted(SEARCH_SPACE)}")
        self.label_names = list(label_names)
        self.vocabulary = list(vocabulary)
        self.model_kwargs = dict(model_kwargs or {})
        self.search_space = {**SEARCH_SPACE, **(search_space or {})}
        if self.model_kwargs.get("cell", "lstm") != "lstm":  # the gating presets are the LSTM's
            self.search_space["gating"] = ("vanilla",)
        self.clipnorm = clipnorm
        self.embedding_matrix = embedding_matrix

    def build(self, hp):
        space = self.search_space
        kwargs = {
            **self.model_kwargs,
            "gating": hp.Choice("gating", list(space["gating"])),
            "units": hp.Choice("units", list(space["units"])),
            "num_layers": hp.Choice("num_layers", list(space["num_layers"])),
            "dropout": hp.Choice("dropout", list(space["dropout"])),
        }
        low, high = space["learning_rate"]
        learning_rate = hp.Float("learning_rate", low, high, sampling="log")
        classifier = TextClassifier(self.label_names, **kwargs)
        classifier.set_vocabulary(self.vocabulary)
        if self.embedding_matrix is not None:
            classifier.token_embedding.embeddings.assign(self.embedding_matrix)
        classifier.compile(learning_rate=learning_rate, clipnorm=self.clipnorm)
        return classifier


def tune_classifier(
    label_names,
    train_texts,
    train_labels,
    valid_texts,
    valid_labels,
    trials,
    out_dir,
    model_kwargs=None,
    search_space=None,
    epochs=DEFAULTS["epochs"],
    batch_size=DEFAULTS["batch_size"],
    patience=DEFAULTS["patience"],
    time_budget=None,
    seed=0,
    verbose=2,
    embeddings=None,
):
    """Random search over `search_space`; returns the best hyperparameters.

    Each trial trains with early stopping on the validation loss (and `time_budget` minutes at
    most); trials are scored by their best validation accuracy. KerasTuner keeps its state in
    `out_dir/search/`, so a search started again with the same arguments resumes where it
    stopped.

    Args:
        label_names: the class names.
        train_texts, train_labels: the training examples (the vocabulary is learned from them).
        valid_texts, valid_labels: the validation examples that score the trials.
        trials: the number of trials.
        out_dir: KerasTuner's folder.
        model_kwargs: the fixed `TextClassifier` arguments.
        search_space: overrides of `SEARCH_SPACE`.
        epochs, batch_size, patience, time_budget: the training of each trial.
        seed: the seed of the search and of the shuffling.
        verbose: Keras' `fit` verbosity.
        embeddings: None, or a file of pretrained vectors (GloVe / word2vec text format) that
            every trial starts from.

    Returns:
        A dict: `best` (the best trial's values: gating, units, num_layers, dropout,
        learning_rate), `best_val_accuracy` and `trials` (every trial's values and score).
    """
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"the number of tuning trials must be a positive int, received {trials!r}")
    model_kwargs = dict(model_kwargs or {})
    vocabulary_source = TextClassifier(label_names, **model_kwargs)
    vocabulary_source.adapt(train_texts)
    embedding_matrix = None
    if embeddings:
        vocabulary_source.load_embeddings(embeddings)
        embedding_matrix = vocabulary_source.token_embedding.embeddings.numpy()
    hypermodel = ClassifierHyperModel(
        label_names, vocabulary_source.vocabulary, model_kwargs, search_space, embedding_matrix=embedding_matrix
    )
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=keras_tuner.Objective("val_accuracy", direction="max"),
        max_trials=trials,
        seed=seed,
        directory=out_dir,
        project_name="search",
        overwrite=False,
    )
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
    if time_budget:
        callbacks.append(TimeBudget.of(time_budget))
    tuner.search(
        make_text_dataset(train_texts, train_labels, batch_size, shuffle=True, seed=seed),
        validation_data=make_text_dataset(valid_texts, valid_labels, batch_size),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself
        callbacks=callbacks,
        verbose=verbose,
    )
    finished = [t for t in tuner.oracle.trials.values() if t.score is not None]
    best = max(finished, key=lambda t: t.score)
    return {
        "best": dict(best.hyperparameters.values),
        "best_val_accuracy": float(best.score),
        "trials": [{"values": dict(t.hyperparameters.values), "val_accuracy": float(t.score)} for t in finished],
    }
