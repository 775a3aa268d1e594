"""Training conveniences shared by every task: seeding, a wall-clock budget and standard callbacks."""

import json
import os
import time

import keras


def set_seed(seed):
    """Makes a run repeatable: seeds Python, NumPy and the backend (`keras.utils.set_random_seed`)."""
    if seed is not None:
        keras.utils.set_random_seed(int(seed))


@keras.saving.register_keras_serializable(package="lstm_keras")
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


def standard_callbacks(out_dir, monitor="val_loss", patience=3, time_budget=None):
    """The callbacks every `train` command uses, writing under `out_dir`.

    Early stopping on `monitor` (best weights restored), best-model checkpointing
    (`out_dir/checkpoints/best.weights.h5`), `BackupAndRestore` (`out_dir/backup/`, so that an
    interrupted run started again with the same command resumes), a CSV history
    (`out_dir/history.csv`), TensorBoard logs (`out_dir/logs/`) and an optional time budget.

    Args:
        out_dir: the run's output folder.
        monitor: the metric to watch.
        patience: epochs without improvement before stopping.
        time_budget: minutes, or None.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out_dir, "checkpoints", "best.weights.h5"),
            monitor=monitor, save_best_only=True, save_weights_only=True,
        ),
        keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup")),
        keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), write_graph=False),
    ]
    if time_budget:
        callbacks.append(TimeBudget(time_budget))
    return callbacks


def print_metrics(metrics):
    """Prints the final metrics as one JSON line (the `train` commands' contract) and returns the line."""
    line = json.dumps({k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in metrics.items()})
    print(line, flush=True)
    return line
