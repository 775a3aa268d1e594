"""Training a `LanguageModel` on token streams: truncated BPTT and exact perplexity.

- `fit_language_model` trains a stateful `LanguageModel` on a token stream with truncated BPTT
  (ordered `(batch_size, bptt)` windows, states carried across batches and reset by
  `ResetStates` at every epoch and validation), gradient clipping, learning-rate annealing and
  the project's standard callbacks; it logs the validation perplexity of every epoch.
- `evaluate_perplexity` scores a stream: `exp` of the mean negative log-likelihood over every
  one of its tokens, each counted exactly once (padding is not counted).
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


def evaluate_perplexity(model, stream, bptt=DEFAULTS["bptt"]):
    """The perplexity of a `LanguageModel` on a token stream, every token counted once.

    The stream is read as in training (`batch_size` contiguous rows, `bptt` steps per batch,
    states carried, from zero states), without dropout; the predicted tokens are exactly the
    stream's `N` tokens (the first one after an `[END]`), padding is skipped, and

        perplexity = exp(-(1 / N) Σ_i log p(w_i | w_<i)).

    Args:
        model: a compiled `LanguageModel` (stateful or not; a stateless one reads the rows with
            their states carried only within a window, so give it `bptt` >= the row length for
            the same numbers).
        stream: 1-D int ids (N >= 1).
        bptt: the window length.

    Returns:
        A dict: `perplexity`, `nll` (the mean negative log-likelihood per token, nats) and
        `tokens` (N).
    """
    if len(stream) == 0:
        raise ValueError("evaluate_perplexity: the token stream is empty")
    batch_size = model.batch_size or 1
    inputs, targets = language_modeling_arrays(stream, batch_size, bptt, model.end_token_id, model.pad_token_id)
    model.reset_states()
    results = model.evaluate(
        inputs, targets, batch_size=batch_size, verbose=0, return_dict=True, callbacks=[ResetStates()]
    )
    model.reset_states()
    perplexity = float(results["perplexity"])
    return {"perplexity": perplexity, "nll": math.log(perplexity), "tokens": int(len(stream))}


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
