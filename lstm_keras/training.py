"""Training conveniences shared by every task: seeding, a wall-clock budget and standard callbacks."""

import contextlib
import csv
import json
import math
import os
import statistics
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


# The time of an evaluation batch as a share of a training batch's (a forward pass against a forward and a
# backward pass), used to project an evaluation before one has been timed. The LSTM models here measure about
# 0.3-0.4 on CPU; rounded up, so that a projection errs on the side of stopping early.
EVAL_BATCH_COST = 0.5
# `TimeBudget(whole_epoch=True)` checks that the first epoch fits once this many of its batches are timed.
PROBE_BATCHES = 5
# The training batches of a window whose median time is the machine's current speed (`BatchTimes.slowdown`).
SPEED_WINDOW = 20
# `TimeBudget(refresh=...)` refreshes its reserve again only after this many times the last refresh's own time.
REFRESH_SPACING = 10

_command_clock = {"started": None}


@contextlib.contextmanager
def command_clock(started=None):
    """Marks a command's run: its `--time-budget` counts from `started` (a `time.monotonic()` reading; default now).

    The CLI's `main` runs every command inside it, from the moment it starts (before its imports).
    """
    _command_clock["started"] = time.monotonic() if started is None else started
    try:
        yield
    finally:
        _command_clock["started"] = None


class Deadline:
    """The end of a command's time budget, and what is left of it.

    A `--time-budget` covers the whole command: loading, training, the final evaluation and the
    export. A `Deadline` counts from the command's start (`command_clock`; from its own
    creation outside a command, e.g. a recipe called from Python); `TimeBudget`
    stops training in time for what follows it.

    Args:
        minutes: the budget in minutes; None or 0 for none (`remaining()` is then infinite).
        started: the clock reading the budget counts from (default: the command's start, or now).
        clock: a function returning seconds (default `time.monotonic`; a fake clock in tests).

    Example:
    >>> clock = iter([100.0, 130.0]).__next__
    >>> Deadline(2, started=90.0, clock=clock).remaining()  # 120 s from 90 s, read at 100 s
    110.0
    """

    def __init__(self, minutes, started=None, clock=None):
        self.minutes = minutes or None
        self.seconds = float(minutes) * 60.0 if minutes else None
        self.clock = clock or time.monotonic
        if started is None:
            started = _command_clock["started"] if clock is None and _command_clock["started"] else self.clock()
        self.started = started

    def __bool__(self):
        return self.seconds is not None

    def remaining(self):
        """The seconds left (`math.inf` without a budget; negative once it is spent)."""
        return math.inf if self.seconds is None else self.started + self.seconds - self.clock()

    def share(self, parts, reserve=0.0):
        """A deadline for the next of `parts` runs that share what is left, `reserve` seconds kept for what follows.

        Example:
        >>> clock = lambda: 0.0
        >>> Deadline(10, clock=clock).share(3, reserve=60).remaining()  # (600 - 60) / 3
        180.0
        """
        if not self:
            return self
        seconds = max(self.remaining() - reserve, 1e-3) / max(parts, 1)
        return Deadline(seconds / 60.0, started=self.clock(), clock=self.clock)

    def runs(self, count, reserve=0.0):
        """`count` training runs that share what is left, one after the other (`TimeBudget(deadline.runs(...))`)."""
        return RunDeadlines(self, count, reserve)

    def check_room(self, seconds, needed_for):
        """Raises ValueError (naming `--time-budget`) if fewer than `seconds` are left for `needed_for`."""
        left = self.remaining()
        if left < seconds:
            raise ValueError(
                f"--time-budget {self.minutes:g} minutes is too small: {max(left, 0.0):.0f} s are left and "
                f"{needed_for} needs about {seconds:.0f} s: give a larger --time-budget, or none"
            )


class RunDeadlines:
    """The deadlines of `count` training runs that share a command's `Deadline`, `reserve` seconds kept after them.

    Each run, when it starts (`next_run`), gets an equal share of the time then left to the runs
    not yet started, so a run that ends early leaves its time to the next ones.

    Example:
    >>> clock = lambda: 0.0
    >>> runs = Deadline(10, clock=clock).runs(3, reserve=60)
    >>> runs.next_run().remaining()  # (600 - 60) / 3
    180.0
    """

    def __init__(self, deadline, count, reserve=0.0):
        self.deadline = deadline
        self.count = count
        self.reserve = reserve
        self.started = 0

    def next_run(self):
        """The `Deadline` of the next run."""
        left = max(self.count - self.started, 1)
        self.started += 1
        return self.deadline.share(left, self.reserve)


class TimeBudget(keras.callbacks.Callback):
    """Stops training in time for the command to end within its `Deadline`.

    After every batch it projects what the command still needs if training stopped after one
    more batch: that batch, the validation Keras runs at the end of an interrupted epoch, and
    `reserve`, the seconds of the work after training (the final evaluation, the export). It
    stops training as soon as the time left would not cover them; the best weights so far are
    then kept by the other callbacks (`EarlyStopping(restore_best_weights=True)`). Batch times
    are measured as training goes (`speeds`); an evaluation batch counts as `EVAL_BATCH_COST`
    training batches until a validation has been timed. When the machine slows down (the median
    of the last `SPEED_WINDOW` training batches above the median of the earlier windows: other
    processes on the cores), everything still to do is projected that much slower
    (`speeds.slowdown`), the reserve included: it was planned at the earlier speed.

    Args:
        deadline: a `Deadline`, minutes (from the command's start; None or 0: no budget), or
            `RunDeadlines`: then every `fit` it is passed to is one of the runs, with a deadline
            of its own and its own measurements.
        reserve: seconds, or a function `reserve(speeds) -> seconds` of the measured speeds.
        validation_batches: the batches of each epoch's validation (None: counted in the first one).
        whole_epoch: whether a run must complete its first epoch: once `PROBE_BATCHES` batches of
            it are timed, a budget that cannot cover the rest of that epoch, its validation and
            the reserve raises ValueError naming `--time-budget` (a model of part of an epoch
            is no model: `classify train`), instead of stopping there.
        refresh: None, or a function called when training would stop, before it is stopped: it
            may measure again what `reserve` projects, with the model as trained (the model of
            the work after training), and training goes on if the time left then covers it. It
            is called again only once `REFRESH_SPACING` times its own time has passed.

    Example:
    >>> budget = TimeBudget(5, reserve=30.0)
    >>> budget.deadline.seconds, budget.reserve(budget.speeds)
    (300.0, 30.0)
    """

    def __init__(self, deadline, reserve=0.0, validation_batches=None, whole_epoch=False, refresh=None):
        super().__init__()
        self.whole_epoch = whole_epoch
        self.refresh = refresh
        self._next_refresh = None  # the clock's time from which `refresh` may be called again
        self._first_epoch_batches = 0  # batches of the run's first epoch, while it runs (None after it)
        self.runs = deadline if isinstance(deadline, RunDeadlines) else None
        if self.runs:
            deadline = self.runs.deadline
        self.deadline = deadline if isinstance(deadline, Deadline) else Deadline(deadline)
        self.reserve = reserve if callable(reserve) else (lambda speeds, seconds=float(reserve): seconds)
        self.validation_batches = self._given_validation_batches = validation_batches
        self.stopped = False
        self._train = BatchTimes()
        self._eval = BatchTimes()
        self._counted = 0

    @classmethod
    def of(cls, time_budget):
        """`time_budget` itself if it is a `TimeBudget`, else a `TimeBudget` of it (minutes, a `Deadline`, None)."""
        return time_budget if isinstance(time_budget, cls) else cls(time_budget)

    def on_train_begin(self, logs=None):
        if self.runs:
            self.deadline = self.runs.next_run()
            self.validation_batches = self._given_validation_batches
            self._train, self._eval = BatchTimes(), BatchTimes()
        self._first_epoch_batches = 0

    def on_epoch_end(self, epoch, logs=None):
        self._first_epoch_batches = None

    @property
    def speeds(self):
        """Seconds per batch so far: `train_batch` (0 before one is timed) and `eval_batch` (measured or projected),
        and `slowdown`, how much slower the machine runs now than before (`BatchTimes.slowdown`, at least 1)."""
        train_batch = self._train.mean(first_counts=False) or 0.0  # the first batch compiles: not a measure
        eval_batch = self._eval.mean()
        return types.SimpleNamespace(
            train_batch=train_batch, eval_batch=EVAL_BATCH_COST * train_batch if eval_batch is None else eval_batch,
            slowdown=self._train.slowdown(),
        )

    def needed(self):
        """The seconds the command needs after one more batch: that batch, an epoch's validation, the reserve, each
        at the machine's current speed."""
        speeds = self.speeds
        return speeds.slowdown * (
            speeds.train_batch + (self.validation_batches or 0) * speeds.eval_batch + self.reserve(speeds))

    def training_left(self):
        """The seconds of training left before this callback stops it (infinite without a budget)."""
        return self.deadline.remaining() - self.needed()

    def on_train_batch_begin(self, batch, logs=None):
        self._train.begin(self.deadline.clock())

    def on_train_batch_end(self, batch, logs=None):
        self._train.end(self.deadline.clock())
        if self.whole_epoch and self._first_epoch_batches is not None:
            self._first_epoch_batches += 1
            # Once the batches after the first (which compiles) are timed, or as the budget would stop the epoch.
            if self._first_epoch_batches == PROBE_BATCHES + 1 or self.training_left() < 0:
                self._check_first_epoch()
        if self.training_left() < 0 and not self._refresh_frees_time():
            self.stopped = True
            self.model.stop_training = True

    def _refresh_frees_time(self):
        """Calls `refresh` if given and due; whether the time left then covers one more batch and what follows."""
        if self.refresh is None or (self._next_refresh is not None and self.deadline.clock() < self._next_refresh):
            return False
        started = self.deadline.clock()
        self.refresh()
        now = self.deadline.clock()
        self._next_refresh = now + REFRESH_SPACING * (now - started)
        return self.training_left() >= 0

    def _check_first_epoch(self):
        """Raises ValueError if the rest of the first epoch, its validation and the reserve do not fit.

        Until a batch after the first (which compiles the step) is timed, the rest of the epoch
        counts as nothing: the requirement named is then a lower bound.
        """
        if not self.deadline:
            return
        done = self._first_epoch_batches
        steps = (self.params or {}).get("steps")  # None for a dataset of unknown length
        speeds = self.speeds
        needed = self.needed() + speeds.slowdown * max((steps or 0) - done - 1, 0) * speeds.train_batch
        if needed <= self.deadline.remaining():  # then `training_left()` >= 0 too: `needed` counts more
            return
        command = self.runs.deadline if self.runs else self.deadline
        spent = command.seconds - command.remaining()
        kept = command.remaining() - self.deadline.remaining()  # for what follows this run (the export)
        of_steps = f" of its {steps}" if steps else ""
        raise ValueError(
            f"--time-budget {command.minutes:g} minutes is too small for one epoch: after {done}{of_steps} batches "
            f"({spent:.0f} s into the command), the rest of the epoch, the evaluation and the export need about "
            f"{needed + kept:.0f} s more and {max(command.remaining(), 0):.0f} s are left: give at least "
            f"{math.ceil((spent + needed + kept) / 60 * 1.1 * 10) / 10:g} minutes, or no --time-budget"
        )

    def on_test_batch_begin(self, batch, logs=None):
        self._eval.begin(self.deadline.clock())

    def on_test_batch_end(self, batch, logs=None):
        self._eval.end(self.deadline.clock())
        self._counted += 1

    def on_test_end(self, logs=None):
        if self.validation_batches is None:
            self.validation_batches = self._counted
        self._counted = 0


class BatchTimes:
    """The mean duration of batches, the first one (which compiles the step) left out unless it is the only one.

    Example:
    >>> times = BatchTimes()
    >>> for begin, end in ((0.0, 5.0), (5.0, 6.0), (6.0, 8.0)):
    ...     times.begin(begin)
    ...     times.end(end)
    >>> times.mean()
    1.5
    """

    def __init__(self):
        self.first = None
        self.count = 0
        self.total = 0.0
        self._begun = None
        self._window = []  # the batches of the window being filled
        self._window_medians = []  # the median of each full window (of `SPEED_WINDOW` batches)
        self._slowdown = 1.0  # `slowdown()`, updated as each window fills

    def begin(self, now):
        self._begun = now

    def end(self, now):
        if self._begun is None:
            return
        seconds, self._begun = now - self._begun, None
        if self.first is None:
            self.first = seconds
        else:
            self.count += 1
            self.total += seconds
            self._window.append(seconds)
            if len(self._window) == SPEED_WINDOW:
                self._window_medians.append(statistics.median(self._window))
                self._window = []
                if len(self._window_medians) >= 2:
                    earlier = statistics.median(self._window_medians[:-1])
                    self._slowdown = max(1.0, self._window_medians[-1] / earlier)

    def mean(self, first_counts=True):
        """Seconds per batch, or None before any batch (or before the second, if `first_counts` is False)."""
        if self.count:
            return self.total / self.count
        return self.first if first_counts else None

    def slowdown(self):
        """The last full window's median batch time over the median of the earlier windows' medians, at least 1
        (1 before two windows are full): a median is not moved by one slow batch, only by a slower machine."""
        return self._slowdown


class _BudgetProgress(keras.callbacks.Callback):
    """Base of the callbacks that follow the share of a budget's training time already spent."""

    def __init__(self, budget):
        super().__init__()
        self.budget = budget
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = self.budget.deadline.clock()

    def progress(self):
        """The share of the training time spent: elapsed / (elapsed + `budget.training_left()`), in [0, 1]."""
        elapsed = self.budget.deadline.clock() - self._start
        left = max(self.budget.training_left(), 0.0)
        return 1.0 if elapsed + left <= 0 else elapsed / (elapsed + left)

    def _set_learning_rate(self, rate):
        self.model.optimizer.learning_rate = rate


class AnnealBeforeBudget(_BudgetProgress):
    """Multiplies the learning rate by `factor` once, for the last `share` of the training time a budget leaves.

    A run cut off by its budget (`TimeBudget`) often never reaches the plateau at which
    `ReduceLROnPlateau` would lower the learning rate, and loses the large gain of training
    with a lower rate at the end. After every batch this callback reads how much training time
    is left (`budget.training_left()`: the time left before `budget` stops training) and lowers
    the rate once when that is less than `share` of the whole training time (elapsed + left),
    inside an epoch if need be (a corpus whose epoch outlasts the budget).

    Args:
        budget: the run's `TimeBudget` (placed before this callback).
        factor: the learning-rate multiplier.
        share: the share of the training time run at the lower rate.

    Example:
    >>> AnnealBeforeBudget(TimeBudget(60), factor=0.25).share
    0.25
    """

    def __init__(self, budget, factor, share=0.25):
        super().__init__(budget)
        self.factor = factor
        self.share = share
        self.annealed_at = None  # (epoch, batch)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.annealed_at is not None or not self.budget.deadline:
            return
        if self.progress() > 1.0 - self.share:
            learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self._set_learning_rate(learning_rate * self.factor)
            self.annealed_at = (self._epoch, batch)


class CosineToBudget(_BudgetProgress):
    """Linear warm-up, then cosine decay, over the training time a budget leaves (not over a number of steps).

    A schedule over steps spans the epochs asked for; a run its `TimeBudget` cuts short ends
    with the rate still near its peak and never gains from the low rates at the end. Before
    every batch this callback sets the rate from the share `p` of the training time spent
    (`progress()`, elapsed / (elapsed + `budget.training_left()`)):

        lr(p) = peak · (floor + (1 - floor) · p / w)                      for p < w,
        lr(p) = peak · (floor + (1 - floor) · (1 + cos(π (p - w) / (1 - w))) / 2)   for p ≥ w,

    with `w` the warm-up share and `floor` the fraction the rate starts from and decays to (as
    `keras.optimizers.schedules.CosineDecay` with `warmup_target=peak`, `alpha=floor` over steps).
    If the run may end by its number of epochs before the budget is spent, `steps` (its length
    in batches) makes `p` the larger of the time share and the share of the steps done.

    Args:
        budget: the run's `TimeBudget`.
        peak: the largest learning rate.
        warmup_share: `w`, the share of the training time spent warming up.
        floor: the first and last rate as a fraction of `peak`.
        steps: None, or the number of training batches the run has at most.

    Example:
    >>> schedule = CosineToBudget(TimeBudget(60), peak=1e-3, warmup_share=0.1, floor=0.1)
    >>> [round(schedule.rate(p), 6) for p in (0.0, 0.1, 0.55, 1.0)]
    [0.0001, 0.001, 0.00055, 0.0001]
    """

    def __init__(self, budget, peak, warmup_share=0.05, floor=0.1, steps=None):
        super().__init__(budget)
        self.peak = peak
        self.warmup_share = warmup_share
        self.floor = floor
        self.steps = steps
        self._done = 0

    def rate(self, progress):
        """The learning rate at `progress` (the share of the training time spent)."""
        w = self.warmup_share
        if progress < w:
            shape = progress / w
        else:
            shape = 0.5 * (1.0 + math.cos(math.pi * min((progress - w) / max(1.0 - w, 1e-9), 1.0)))
        return self.peak * (self.floor + (1.0 - self.floor) * shape)

    def on_train_batch_begin(self, batch, logs=None):
        progress = self.progress()
        if self.steps:
            progress = max(progress, self._done / self.steps)
        self._set_learning_rate(self.rate(progress))
        self._done += 1


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
        time_budget: None, minutes or a `Deadline` (`TimeBudget` stops training in time for
            the epoch's validation), or a `TimeBudget`.
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
        callbacks.append(TimeBudget.of(time_budget))
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
