"""Training a `LanguageModel` on token streams: truncated BPTT and exact perplexity.

- `fit_language_model` trains a stateful `LanguageModel` on a token stream with truncated BPTT
  (ordered `(batch_size, bptt)` windows, states carried across batches and reset by
  `ResetStates` at every epoch and validation), gradient clipping, learning-rate annealing and
  the project's standard callbacks; it logs the validation perplexity of every epoch.
- `evaluate_perplexity` scores a stream: `exp` of the mean negative log-likelihood over every
  one of its tokens, each counted exactly once (padding is not counted); `PerplexityEvaluator`
  does it for several streams with one compiled step, at the largest batch that fits
  (`evaluation_batch_size`), its rows warmed up with the context before them.
"""

import importlib.util
import math
import time

import keras

from lstm_keras.datasets.language_modeling import language_modeling_arrays
from lstm_keras.training import AnnealBeforeBudget
from lstm_keras.training import ResetStates
from lstm_keras.training import TimeBudget
from lstm_keras.training import epochs_completed
from lstm_keras.training import standard_callbacks

# All defaults of language-model training in one place.
DEFAULTS = {
    "batch_size": 20,
    "bptt": 35,
    "epochs": 10,
    "learning_rate": None,  # None: the cell's (LanguageModel.compile)
    "clipnorm": None,
    "patience": 3,
    "anneal_factor": 0.25,
}
# Evaluation (`evaluation_batch_size`): the most memory the output activations of one batch may take, the most
# rows, and the unscored warm-up context of a row (windows) and the most it may add to the tokens scored.
EVALUATION = {"memory_bytes": 256 * 2**20, "max_batch_size": 128, "warmup_windows": 2, "warmup_share": 0.1}


def check_training_stream(stream, batch_size, bptt):
    """Raises ValueError (naming `bptt` and `batch_size`) if a training stream is shorter than one window.

    One TBPTT batch covers `batch_size * bptt` tokens; a shorter training stream would train on
    padding more than on text.
    """
    if len(stream) < batch_size * bptt:
        raise ValueError(
            f"the training text has {len(stream)} tokens, fewer than one BPTT window of batch_size x bptt = "
            f"{batch_size} x {bptt} = {batch_size * bptt} tokens: lower --bptt or --batch-size, or give more text"
        )


def fit_language_model(
    model,
    train_stream,
    valid_stream=None,
    bptt=DEFAULTS["bptt"],
    epochs=DEFAULTS["epochs"],
    out_dir=None,
    patience=DEFAULTS["patience"],
    time_budget=None,
    anneal_factor=DEFAULTS["anneal_factor"],
    validation_steps=None,
    callbacks=None,
    verbose=1,
):
    """Trains a compiled, stateful `LanguageModel` with truncated BPTT.

    Args:
        model: a compiled `LanguageModel` with `batch_size` set.
        train_stream: 1-D int ids of the training text (`text_to_stream`).
        valid_stream: the validation stream, or None.
        bptt: the time steps per batch (gradients flow through that many steps).
        epochs: the most epochs.
        out_dir: a folder for the standard callbacks (best weights, backup, history, ...), or None.
        patience: epochs without a better validation perplexity before stopping (with a
            validation stream).
        time_budget: None, minutes or a `Deadline` (training stops in time for the epoch's
            validation to end within it), or a `TimeBudget` that also reserves time for what
            follows training.
        anneal_factor: the learning rate is multiplied by it after every epoch without a better
            validation perplexity (`ReduceLROnPlateau`), and, with a `time_budget`, once more for
            the last quarter of the training time it leaves (`AnnealBeforeBudget`); None for a
            constant rate.
        validation_steps: None (the whole validation stream after every epoch), or the number
            of windows validated after every epoch (the first `validation_steps * bptt` tokens
            of each of the `batch_size` rows): a cheaper estimate, for a budget.
        callbacks: more callbacks.
        verbose: Keras' `fit` verbosity.

    Returns:
        `(history, stats)`: the Keras `History` and a dict with `train_seconds` (the wall time
        of `fit`), `seconds_per_epoch`, `train_tokens_per_second` (the target tokens of the
        training batches, padding included, over the wall time of training: `fit`'s time less
        its validations), `train_batches` (the batches trained: Keras' progress line shows the
        epoch's full count even when a budget stopped it early), `epochs_trained` and
        `stopped_by_time_budget`.

    Raises:
        ValueError: the model is not stateful, or the training stream is shorter than one window.
    """
    if not model.stateful:
        raise ValueError(
            "fit_language_model needs a stateful LanguageModel (batch_size set): truncated BPTT carries the "
            "states from one batch to the next"
        )
    check_training_stream(train_stream, model.batch_size, bptt)
    train_x, train_y = language_modeling_arrays(
        train_stream, model.batch_size, bptt, model.end_token_id, model.pad_token_id
    )
    valid_data = None
    if valid_stream is not None and len(valid_stream):
        valid_data = language_modeling_arrays(
            valid_stream, model.batch_size, bptt, model.end_token_id, model.pad_token_id
        )
    monitor = "val_perplexity" if valid_data is not None else "perplexity"
    if valid_data is not None and validation_steps:
        validation_steps = min(validation_steps, len(valid_data[0]) // model.batch_size)
    budget = TimeBudget.of(time_budget)
    if budget.validation_batches is None and valid_data is not None:
        budget.validation_batches = validation_steps or len(valid_data[0]) // model.batch_size
    clock = _TrainingClock()
    all_callbacks = [ResetStates(), clock]
    if out_dir is not None:
        all_callbacks += standard_callbacks(out_dir, monitor=monitor, patience=patience, time_budget=budget)
        if importlib.util.find_spec("tensorboard") is None:
            # TensorFlow 2.21 no longer installs TensorBoard, without which its callback fails.
            all_callbacks = [c for c in all_callbacks if not isinstance(c, keras.callbacks.TensorBoard)]
    else:
        if valid_data is not None:
            all_callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=patience, restore_best_weights=True)
            )
        all_callbacks.append(budget)
    if anneal_factor and valid_data is not None:
        all_callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="min", factor=anneal_factor, patience=0)
        )
    if anneal_factor and budget.deadline:
        all_callbacks.append(AnnealBeforeBudget(budget, anneal_factor))
    all_callbacks += list(callbacks or [])
    started = time.monotonic()
    # Ordered windows of `batch_size` rows: row r of a batch continues row r of the previous one.
    history = model.fit(
        train_x,
        train_y,
        batch_size=model.batch_size,
        validation_data=valid_data,
        validation_batch_size=model.batch_size,
        validation_steps=validation_steps or None,
        epochs=epochs,
        shuffle=False,
        callbacks=all_callbacks,
        verbose=verbose,
    )
    seconds = time.monotonic() - started
    epochs_trained = max(len(history.epoch), 1)
    tokens = clock.batches * model.batch_size * bptt
    stats = {
        "epochs_trained": epochs_completed(history),
        "train_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / epochs_trained, 1),
        "train_batches": clock.batches,
        "train_tokens_per_second": round(tokens / max(clock.training_seconds, 1e-9), 1),
        "stopped_by_time_budget": budget.stopped,
    }
    return history, stats


def evaluation_batch_size(model, num_tokens, bptt=DEFAULTS["bptt"]):
    """The largest evaluation batch that fits: the rows `PerplexityEvaluator` reads a stream in.

    More rows run faster (2x from 20 to 64 rows with the adaptive softmax on 2 CPU cores), up to
    the first of: `EVALUATION["max_batch_size"]`; the rows whose output activations
    (`rows x bptt x vocabulary` floats) fit in `EVALUATION["memory_bytes"]`; the rows whose warm-up
    context (`EVALUATION["warmup_windows"] x bptt` tokens each) adds at most
    `EVALUATION["warmup_share"]` to the `num_tokens` scored.

    Example:
    >>> from lstm_keras.models import LanguageModel
    >>> model = LanguageModel(10000, embedding_dim=8, units=8, batch_size=20)
    >>> evaluation_batch_size(model, 82430, bptt=35)  # PTB's test set
    117
    >>> evaluation_batch_size(model, 1000, bptt=35)  # a short stream: one row
    1
    """
    warmup = EVALUATION["warmup_windows"] * bptt
    fits = EVALUATION["memory_bytes"] // (4 * bptt * model.vocabulary_size)
    cheap = int(num_tokens * EVALUATION["warmup_share"] / warmup)
    return max(1, min(fits, cheap, EVALUATION["max_batch_size"]))


class PerplexityEvaluator:
    """The exact perplexity of a `LanguageModel`'s current weights on token streams, at any batch.

    A stateful model reads a stream in `batch_size` contiguous rows, states carried from window to
    window (its training batch size is fixed, so a larger evaluation batch runs in a copy of the
    model that takes the model's weights at every call). Every row after the first first reads the
    `warmup` tokens before its part, unscored (`language_modeling_windows`), so a token is scored
    with nearly the context one long row would give it. Each token of the stream is scored
    exactly once (padding is not), and

        perplexity = exp(-(1 / N) Σ_i log p(w_i | w_<i)).

    One evaluator compiles once: the validation and test streams (and any number of calls) run
    the same compiled step.

    Args:
        model: a compiled `LanguageModel` (stateful or not; a stateless one carries the states
            only within a window, so give it `bptt` >= the row length for the same numbers).
        bptt: the window length.
        batch_size: the rows; None for the model's own batch size (1 when stateless).
        warmup: the unscored context of every row after the first; None for
            `EVALUATION["warmup_windows"] * bptt` when `batch_size` is not the model's own, else 0
            (the rows of training).

    Call arguments:
        stream: 1-D int ids (N >= 1).

    Returns:
        A dict: `perplexity`, `nll` (the mean negative log-likelihood per token, nats) and
        `tokens` (N).

    Example:
    >>> import numpy as np
    >>> from lstm_keras.models import LanguageModel
    >>> model = LanguageModel(30, embedding_dim=8, units=8, batch_size=2)
    >>> model.compile()
    >>> evaluator = PerplexityEvaluator(model, bptt=5, batch_size=4)
    >>> round(evaluator(np.arange(3, 30))["perplexity"]) < 60  # untrained: about the vocabulary size
    True
    """

    def __init__(self, model, bptt=DEFAULTS["bptt"], batch_size=None, warmup=None):
        own_batch = model.batch_size or 1
        self.model = model
        self.bptt = bptt
        self.batch_size = batch_size or own_batch
        if warmup is None:
            warmup = 0 if self.batch_size == own_batch else EVALUATION["warmup_windows"] * bptt
        self.warmup = warmup
        self._reader = model
        if model.stateful and self.batch_size != model.batch_size:
            self._reader = model.__class__.from_config({**model.get_config(), "batch_size": self.batch_size})
            self._reader.compile()

    def arrays(self, stream):
        """The `(inputs, targets)` windows of `stream` as this evaluator reads them."""
        if len(stream) == 0:
            raise ValueError("evaluate_perplexity: the token stream is empty")
        return language_modeling_arrays(stream, self.batch_size, self.bptt, self.model.end_token_id,
                                        self.model.pad_token_id, warmup=self.warmup)

    def __call__(self, stream):
        inputs, targets = self.arrays(stream)
        reader = self._reader
        if reader is not self.model:
            reader.set_weights(self.model.get_weights())
        reader.reset_states()
        results = reader.evaluate(
            inputs, targets, batch_size=self.batch_size, verbose=0, return_dict=True, callbacks=[ResetStates()]
        )
        reader.reset_states()
        perplexity = float(results["perplexity"])
        return {"perplexity": perplexity, "nll": math.log(perplexity), "tokens": int(len(stream))}


def evaluate_perplexity(model, stream, bptt=DEFAULTS["bptt"], batch_size=None):
    """The perplexity of a `LanguageModel` on a token stream, every token counted once.

    The stream is read as in training (`batch_size` contiguous rows, `bptt` steps per batch,
    states carried, from zero states), without dropout; see `PerplexityEvaluator` (which
    compiles once for several streams, at a larger batch with `evaluation_batch_size`).

    Args:
        model: a compiled `LanguageModel`.
        stream: 1-D int ids (N >= 1).
        bptt: the window length.
        batch_size: None for the model's own rows, or the rows to read (see `PerplexityEvaluator`).

    Returns:
        A dict: `perplexity`, `nll` (the mean negative log-likelihood per token, nats) and
        `tokens` (N).
    """
    return PerplexityEvaluator(model, bptt, batch_size)(stream)


class _TrainingClock(keras.callbacks.Callback):
    """Counts the training batches of a `fit` and its wall time of training (its validations left out)."""

    def __init__(self):
        super().__init__()
        self.batches = 0
        self.training_seconds = 0.0
        self._started = None
        self._validation_started = None
        self._validation_seconds = 0.0

    def on_train_begin(self, logs=None):
        self._started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_test_begin(self, logs=None):
        self._validation_started = time.monotonic()

    def on_test_end(self, logs=None):
        self._validation_seconds += time.monotonic() - self._validation_started

    def on_train_end(self, logs=None):
        self.training_seconds = time.monotonic() - self._started - self._validation_seconds
