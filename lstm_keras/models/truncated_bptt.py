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
    "learning_rate": 20.0,
    "clipnorm": 0.25,
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
        time_budget: minutes, or None: training stops after the batch that exceeds it (the
            epoch's validation still runs).
        anneal_factor: the learning rate is multiplied by it after every epoch without a better
            validation perplexity (`ReduceLROnPlateau`), and, with a `time_budget`, once more
            before the last epoch the budget leaves room for (`AnnealBeforeBudget`); None for a
            constant rate.
        callbacks: more callbacks.
        verbose: Keras' `fit` verbosity.

    Returns:
        `(history, stats)`: the Keras `History` and a dict with `train_seconds`,
        `seconds_per_epoch`, `train_tokens_per_second` (target tokens processed per second,
        padding included) and `epochs_trained`.

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
    counter = _BatchCounter()
    all_callbacks = [ResetStates(), counter]
    if out_dir is not None:
        all_callbacks += standard_callbacks(out_dir, monitor=monitor, patience=patience, time_budget=time_budget)
        if importlib.util.find_spec("tensorboard") is None:
            # TensorFlow 2.21 no longer installs TensorBoard, without which its callback fails.
            all_callbacks = [c for c in all_callbacks if not isinstance(c, keras.callbacks.TensorBoard)]
    else:
        if valid_data is not None:
            all_callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)
            )
        if time_budget:
            all_callbacks.append(TimeBudget(time_budget))
    if anneal_factor and valid_data is not None:
        all_callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=anneal_factor, patience=0))
    if anneal_factor and time_budget:
        all_callbacks.append(AnnealBeforeBudget(time_budget, anneal_factor))
    all_callbacks += list(callbacks or [])
    started = time.monotonic()
    # Ordered windows of `batch_size` rows: row r of a batch continues row r of the previous one.
    history = model.fit(
        train_x,
        train_y,
        batch_size=model.batch_size,
        validation_data=valid_data,
        validation_batch_size=model.batch_size,
        epochs=epochs,
        shuffle=False,
        callbacks=all_callbacks,
        verbose=verbose,
    )
    seconds = time.monotonic() - started
    epochs_trained = max(len(history.epoch), 1)
    tokens = counter.batches * model.batch_size * bptt
    stats = {
        "epochs_trained": epochs_completed(history),
        "train_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / epochs_trained, 1),
        "train_tokens_per_second": round(tokens / max(counter.seconds, 1e-9), 1),
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


class _BatchCounter(keras.callbacks.Callback):
    """Counts training batches and the seconds they take (for the tokens-per-second figure).

    The time of a batch is the interval between two batch ends of the same epoch, so the first
    batch of every epoch (the very first one traces and compiles the training step) and the
    validation are not counted.
    """

    def __init__(self):
        super().__init__()
        self.batches = 0
        self.seconds = 0.0
        self._last = None

    def on_epoch_begin(self, epoch, logs=None):
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if self._last is not None:
            self.batches += 1
            self.seconds += now - self._last
        self._last = now
