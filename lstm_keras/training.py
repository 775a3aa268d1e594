"""Training conveniences shared by every task: seeding, a wall-clock budget and standard callbacks."""

import csv
import json
import math
import os
import sys
import time
import types

import keras


def set_seed(seed):
    """Makes a run repeatable: seeds Python, NumPy and the backend, and asks for deterministic ops.

    Two runs with the same seed on the same CPU machine give the same weights and metrics
    (`keras.utils.set_random_seed`, plus TensorFlow's op determinism on the TensorFlow backend).

    Args:
        seed: an int, or None to leave everything unseeded.
    """
    if seed is None:
        return
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


class NonFiniteLossError(ValueError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with a clear error as soon as a batch loss is NaN or infinite.

    It raises `NonFiniteLossError` from the batch, before the epoch ends, so the epoch-end
    callbacks (best checkpoint, `BackupAndRestore`) never save the broken weights: the last good
    checkpoint and backup stay in place.

    Args:
        checkpoint: the path of the last good checkpoint, named in the message (optional).
    """

    def __init__(self, checkpoint=None):
        super().__init__()
        self.checkpoint = checkpoint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            kept = ""
            if self.checkpoint and os.path.exists(self.checkpoint):
                kept = f"; the last good checkpoint is kept at {self.checkpoint}"
            elif self.checkpoint:
                kept = "; no epoch had ended, so there is no checkpoint to keep"
            raise NonFiniteLossError(
                f"training stopped: the loss became {float(loss)} at epoch {self._epoch + 1}, batch {batch + 1} "
                f"(try a lower learning rate or stronger gradient clipping){kept}"
            )


class TimeBudget(keras.callbacks.Callback):
    """Stops training once a wall-clock budget is spent (checked after every batch).

    Args:
        minutes: the budget in minutes; None or 0 means no budget.

    Example:
    >>> budget = TimeBudget(minutes=5)
    >>> budget.seconds
    300.0
    """

    def __init__(self, minutes):
        super().__init__()
        self.seconds = float(minutes) * 60.0 if minutes else None
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds is not None and time.monotonic() - self._start > self.seconds:
            self.model.stop_training = True


class AnnealBeforeBudget(keras.callbacks.Callback):
    """Multiplies the learning rate by `factor` once, for the last epoch a time budget leaves room for.

    A run cut off by its budget (`TimeBudget`) often never reaches the plateau at which
    `ReduceLROnPlateau` would lower the learning rate, and loses the large gain of the first
    annealed epoch. After every epoch this callback projects the next one from the mean epoch
    time so far; when fewer than two epochs of the budget remain (the next epoch is the last
    full one the budget leaves room for), it lowers the learning rate once.

    Args:
        minutes: the training budget in minutes (the same as `TimeBudget`'s).
        factor: the learning-rate multiplier.

    Example:
    >>> AnnealBeforeBudget(minutes=60, factor=0.25).seconds
    3600.0
    """

    def __init__(self, minutes, factor):
        super().__init__()
        self.seconds = float(minutes) * 60.0
        self.factor = factor
        self.annealed_after_epoch = None
        self._start = None
        self._epochs = 0

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self._epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self._epochs += 1
        elapsed = time.monotonic() - self._start
        epoch_seconds = elapsed / self._epochs  # the mean so far, validation included
        if self.annealed_after_epoch is None and self.seconds - elapsed < 2 * epoch_seconds:
            learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate = learning_rate * self.factor
            self.annealed_after_epoch = epoch


class ResumeBestState(keras.callbacks.Callback):
    """Gives early stopping and the best checkpoint back what they knew when a run is resumed.

    `EarlyStopping` and `ModelCheckpoint(save_best_only=True)` keep the best value so far, the
    epochs waited since and the best weights in memory only. When `BackupAndRestore` resumes an
    interrupted run in a new process, they would start from nothing: the first resumed epoch,
    however bad, would overwrite the best checkpoint, the wait for `patience` epochs would start
    again, and the weights restored at the end would not be the best ones. Placed after them and
    after `BackupAndRestore`, this callback rebuilds their state from the epochs the CSV history
    logged before the interruption and from the best checkpoint.

    Args:
        history_path: the `CSVLogger` file of the run (appended to across resumptions).
        best_path: the best checkpoint (`ModelCheckpoint`'s file of weights).
        early_stopping: the run's `EarlyStopping`.
        checkpoint: the run's `ModelCheckpoint`. Both watch the same value in the same `mode`
            (`"min"` or `"max"`).
    """

    def __init__(self, history_path, best_path, early_stopping, checkpoint):
        super().__init__()
        self.history_path = history_path
        self.best_path = best_path
        self.early_stopping = early_stopping
        self.checkpoint = checkpoint

    def on_train_begin(self, logs=None):
        resumed_at = self.model._initial_epoch or 0  # set by BackupAndRestore when it resumes
        if not resumed_at or not os.path.exists(self.history_path):
            return
        monitor = self.early_stopping.monitor
        with open(self.history_path, newline="", encoding="utf-8") as f:
            logged = {int(row["epoch"]): float(row[monitor]) for row in csv.DictReader(f)
                      if row.get(monitor) not in (None, "") and int(row["epoch"]) < resumed_at}
        if not logged:
            return
        choose = max if self.early_stopping.mode == "max" else min
        best_epoch = choose(logged, key=logged.get)
        best = logged[best_epoch]
        self.checkpoint.best = best
        stopping = self.early_stopping
        stopping.best, stopping.best_epoch = best, best_epoch
        stopping.wait = max(logged) - best_epoch
        if stopping.restore_best_weights and os.path.exists(self.best_path):
            current = self.model.get_weights()
            self.model.load_weights(self.best_path)
            stopping.best_weights = self.model.get_weights()
            self.model.set_weights(current)


def standard_callbacks(out_dir, monitor="val_loss", patience=3, time_budget=None, mode="min"):
    """The callbacks every `train` command uses, writing under `out_dir`.

    A stop with a clear error on a NaN/Inf loss (`StopOnNonFiniteLoss`, placed first so nothing
    is saved after a broken batch), early stopping on `monitor` (best weights restored), best-model checkpointing
    (`out_dir/checkpoints/best.weights.h5`), `BackupAndRestore` (`out_dir/backup/`, so that an
    interrupted run started again with the same command resumes, with the best value, the
    patience spent and the best weights it had: `ResumeBestState`), a CSV history
    (`out_dir/history.csv`), TensorBoard logs (`out_dir/logs/`) and an optional time budget.

    Args:
        out_dir: the run's output folder.
        monitor: the metric to watch.
        patience: epochs without improvement before stopping.
        time_budget: minutes, or None.
        mode: `"min"` (a loss, a perplexity) or `"max"` (an accuracy): which way `monitor` improves.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
    best = os.path.join(out_dir, "checkpoints", "best.weights.h5")
    history = os.path.join(out_dir, "history.csv")
    early_stopping = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                   restore_best_weights=True)
    checkpoint = keras.callbacks.ModelCheckpoint(best, monitor=monitor, mode=mode, save_best_only=True,
                                                 save_weights_only=True)
    callbacks = [
        StopOnNonFiniteLoss(best),
        early_stopping,
        checkpoint,
        # Two backups: a kill while one is written leaves the previous one to resume from.
        keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"), double_checkpoint=True),
        ResumeBestState(history, best, early_stopping, checkpoint),
        keras.callbacks.CSVLogger(history, append=True),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), write_graph=False),
    ]
    if time_budget:
        callbacks.append(TimeBudget(time_budget))
    return callbacks


def progress_verbosity():
    """Keras' `fit` verbosity for a command: a progress bar inside each epoch at a terminal, one line per epoch in a log.

    Keras redraws its bar in place only on a terminal; written to a file or a pipe, every redraw
    would be a new line.
    """
    return 1 if sys.stderr.isatty() else 2


def logged_history(out_dir, history):
    """The run's whole history for its curves: `out_dir/history.csv` (every epoch, resumptions included) if logged, else `history`."""
    path = os.path.join(out_dir, "history.csv")
    return path if os.path.isfile(path) else history


def epochs_completed(history):
    """The epochs completed in total by a `fit` that may have resumed an interrupted run.

    A run resumed by `BackupAndRestore` starts at the epoch after the last one backed up, and its
    `History` lists only the epochs it ran itself: the total is the last epoch's index + 1.

    Example:
    >>> history = keras.callbacks.History()
    >>> history.epoch = [3, 4]  # resumed after 3 epochs, then 2 more
    >>> epochs_completed(history)
    5
    """
    return history.epoch[-1] + 1 if history.epoch else 0


def print_metrics(metrics):
    """Prints the final metrics as one line of strict JSON (the `train` commands' contract) and returns the line.

    Floats are rounded to 6 decimals; a NaN or infinite number is written `null` (JSON has none).

    Example:
    >>> _ = print_metrics({"bleu": 12.3456789, "perplexity": float("inf"), "per_epoch": [1.0, float("nan")]})
    {"bleu": 12.345679, "perplexity": null, "per_epoch": [1.0, null]}
    """

    def strict(value):
        if isinstance(value, dict):
            return {key: strict(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [strict(item) for item in value]
        if isinstance(value, float):
            return round(value, 6) if math.isfinite(value) else None
        return value

    line = json.dumps(strict(metrics), allow_nan=False)
    print(line, flush=True)
    return line


def non_finite(metrics, prefix=""):
    """The names of the NaN or infinite numbers in a metrics dict (nested dicts and lists included).

    Example:
    >>> non_finite({"loss": float("nan"), "scores": {"bleu": 3.0, "per_epoch": [1.0, float("inf")]}})
    ['loss', 'scores.per_epoch[1]']
    """
    if isinstance(metrics, dict):
        named = [(f"{prefix}.{key}" if prefix else str(key), value) for key, value in metrics.items()]
    else:
        named = [(f"{prefix}[{index}]", value) for index, value in enumerate(metrics)]
    found = []
    for name, value in named:
        if isinstance(value, (dict, list, tuple)):
            found += non_finite(value, name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
            found.append(name)
    return found


@keras.saving.register_keras_serializable(package="lstm_keras")
class ResetStates(keras.callbacks.Callback):
    """Resets every stateful recurrent layer of the model at the start of each epoch and evaluation.

    Truncated BPTT over a token stream carries the LSTM states from one batch to the next
    (`stateful=True`); a new pass over the stream (an epoch, a validation or test run, a
    prediction) must start from zero states, or it would continue from wherever the previous
    pass stopped. `fit` calls `on_test_begin` before its validation too.

    Example:
    >>> from lstm_keras.layers import GatedLSTM
    >>> inputs = keras.Input(batch_shape=(2, None, 3))
    >>> model = keras.Model(inputs, GatedLSTM(4, stateful=True)(inputs))
    >>> _ = model(keras.ops.ones((2, 5, 3)))
    >>> callback = ResetStates()
    >>> callback.set_model(model)
    >>> callback.on_epoch_begin(0)
    >>> float(keras.ops.sum(keras.ops.abs(model.layers[-1].states[0])))
    0.0
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.reset()

    def on_test_begin(self, logs=None):
        self.reset()

    def on_predict_begin(self, logs=None):
        self.reset()

    def reset(self):
        """Zeroes the states of every stateful layer of the model (nested models included)."""
        for layer in self.model._flatten_layers(include_self=False):
            if getattr(layer, "stateful", False) is True and hasattr(layer, "reset_state"):
                layer.reset_state()

    def get_config(self):
        return {}


def log(task, message):
    """Prints a progress line of `task` (`"translate"`, `"lm"`, ...) on stderr."""
    print(f"lstm-keras {task}: {message}", file=sys.stderr, flush=True)


def make_config(defaults, overrides, task):
    """A recipe's config: `defaults` with `overrides`, as attributes; unknown keys raise a ValueError naming `task`.

    Example:
    >>> make_config({"units": 8, "seed": 0}, {"units": 16}, "translation").units
    16
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {task} settings {unknown}; known: {sorted(defaults)}")
    return types.SimpleNamespace(**{**defaults, **overrides})
