"""The recipe of `lstm-keras synthetic train`: fresh sequences every epoch, scores by length bucket."""

import json
import os
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from lstm_keras import training
from lstm_keras.datasets.synthetic import TASKS
from lstm_keras.datasets.synthetic import generate
from lstm_keras.datasets.synthetic import mqar_task
from lstm_keras.io import write_text
from lstm_keras.models.synthetic.metrics import bucket_name
from lstm_keras.models.synthetic.metrics import evaluate_by_length
from lstm_keras.models.synthetic.model import build_synthetic_model
from lstm_keras.plots import plot_history
from lstm_keras.plots import plot_scores_by_length
from lstm_keras.training import TimeBudget
from lstm_keras.training import log
from lstm_keras.training import logged_history
from lstm_keras.training import progress_verbosity
from lstm_keras.training import set_seed
from lstm_keras.training import standard_callbacks

# All defaults of `synthetic train`. `train_lengths` / `test_lengths` None: the task's own; `mqar_*`: the sizes of
# the `mqar` task (`mqar_task`).
DEFAULTS = {
    "task": "parity",
    "cell": "lstm",
    "gating": None,
    "layers": 1,
    "units": 64,
    "train_lengths": None,
    "test_lengths": None,
    "mqar_pairs": 16,
    "mqar_keys": 64,
    "mqar_values": 64,
    "batch_size": 64,
    "steps_per_epoch": 100,
    "epochs": 30,
    "learning_rate": 3e-3,
    "clipnorm": 1.0,
    "patience": 5,
    "valid_examples": 1024,
    "test_examples": 512,
    "time_budget": None,
    "seed": 0,
}
# With a time budget: the margin on the projected time of the final evaluation, and the seconds of saving the model
# and its figures.
RESERVE_MARGIN = 1.5
SAVE_SECONDS = 5.0


def make_config(**overrides):
    """A `train_synthetic_task` config: `DEFAULTS` with `overrides` (unknown keys raise).

    Example:
    >>> make_config(task="mqar", units=32).units
    32
    """
    return training.make_config(DEFAULTS, overrides, "synthetic")


class TaskBatches(keras.utils.PyDataset):
    """Fresh batches of a task every epoch: `(inputs, targets, weights)`, the same ones for the same seed.

    Args:
        task: a `Task`.
        lengths: `(shortest, longest)`: every batch is padded to `longest`, so one compiled step serves.
        batch_size: sequences per batch.
        steps: batches per epoch.
        seed: the seed of batch `i` of epoch `e` is `(seed, 0, e, i)` (validation: `(seed, 1)`, test `(seed, 2)`).
    """

    def __init__(self, task, lengths, batch_size, steps, seed):
        super().__init__()
        self.task, self.lengths, self.batch_size, self.steps, self.seed = task, lengths, batch_size, steps, seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, 0, self.epoch, index])
        return loss_arrays(self.task, *generate(self.task, self.batch_size, self.lengths, rng))

    def on_epoch_end(self):
        self.epoch += 1


def loss_arrays(task, inputs, targets, weights):
    """`(inputs, targets, weights)` as Keras' loss reads them: a regression's targets get the head's last axis."""
    return inputs, targets if task.num_classes else targets[..., None], weights


def compile_synthetic_model(model, task, learning_rate=DEFAULTS["learning_rate"], clipnorm=DEFAULTS["clipnorm"]):
    """Adam with gradient clipping; cross-entropy (or squared error) and accuracy (or MSE) over the scored positions."""
    if task.num_classes:
        loss, metric = keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"
    else:
        loss, metric = keras.losses.MeanSquaredError(), "mse"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm or None), loss=loss,
                  weighted_metrics=[metric])


def train_synthetic_task(config, out):
    """Trains a model on a generated task as `config` says, scores it by length, writes everything under `out`.

    Returns:
        The metrics dict (also written to `out/metrics.json`): the task, the model, and per
        length bucket (the training lengths first) the accuracy (or MSE) and the scaled score;
        `score`, the mean scaled score over the test buckets beyond the training lengths (over
        the test buckets if they are the training lengths).
    """
    deadline = training.Deadline(config.time_budget)
    set_seed(config.seed)
    task = task_of(config)
    train_lengths = tuple(config.train_lengths or task.train_lengths)
    buckets = [tuple(b) for b in (config.test_lengths or task.test_lengths)]
    unseen = [b for b in buckets if b != train_lengths] or buckets
    log("synthetic", f"{task.name}: training on lengths {bucket_name(train_lengths)}, testing on "
                     f"{', '.join(bucket_name(b) for b in buckets)}")
    model = build_synthetic_model(task, config.cell, config.gating, config.layers, config.units)
    compile_synthetic_model(model, task, config.learning_rate, config.clipnorm)
    valid = loss_arrays(task, *generate(task, config.valid_examples, train_lengths, [config.seed, 1]))
    budget = _plan_time_budget(deadline, model, task, [train_lengths] + buckets, config, valid)
    started = time.monotonic()
    history = model.fit(
        TaskBatches(task, train_lengths, config.batch_size, config.steps_per_epoch, config.seed),
        validation_data=valid, validation_batch_size=config.batch_size, epochs=config.epochs,
        callbacks=standard_callbacks(out, monitor="val_loss", patience=config.patience, time_budget=budget),
        verbose=progress_verbosity(),
    )
    train_seconds = time.monotonic() - started
    results = evaluate_by_length(model, task, [train_lengths] + [b for b in buckets if b != train_lengths],
                                 config.test_examples, [config.seed, 2])
    score = float(np.mean([results[bucket_name(b)]["scaled"] for b in unseen]))
    log("synthetic", f"scaled score {score:.3f} on lengths {', '.join(bucket_name(b) for b in unseen)}")
    model.save(os.path.join(out, "model.keras"))
    plt.close(plot_history(logged_history(out, history), os.path.join(out, "training_curves.png"),
                           metrics=["loss", "accuracy" if task.num_classes else "mse"]))
    plt.close(plot_scores_by_length({name: r["scaled"] for name, r in results.items()},
                                    os.path.join(out, "scores_by_length.png"), title=f"{task.name}, {config.cell}"))
    metrics = {
        "task": task.name,
        "score": score,
        "by_length": results,
        "train_lengths": bucket_name(train_lengths),
        "cell": config.cell,
        "gating": config.gating or "vanilla",
        "layers": config.layers,
        "units": config.units,
        "parameters": model.count_params(),
        "epochs_trained": training.epochs_completed(history),
        "train_seconds": round(train_seconds, 1),
        "stopped_by_time_budget": budget.stopped,
        "seed": config.seed,
    }
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def task_of(config):
    """The `Task` of `config.task`; `mqar` at the sizes `config.mqar_*`, its length the longest training length.

    Example:
    >>> task = task_of(make_config(task="mqar", mqar_pairs=4, mqar_keys=8, mqar_values=8, train_lengths=(20, 20)))
    >>> task.chance, task.train_lengths
    (0.125, (20, 20))
    """
    if config.task != "mqar":
        return TASKS[config.task]
    length = config.train_lengths[1] if config.train_lengths else TASKS["mqar"].train_lengths[1]
    return mqar_task(config.mqar_pairs, config.mqar_keys, config.mqar_values, length)


def _plan_time_budget(deadline, model, task, buckets, config, valid):
    """A `TimeBudget` keeping the time of the epoch's validation and of the final evaluation and saving.

    Before training, the validation step is compiled and timed on two batches, and a prediction
    batch of each test bucket too (compiled, then timed). The projection of the final evaluation
    follows the validation speed measured as training goes (a machine that slows down) and carries
    a `RESERVE_MARGIN`.
    """
    if not deadline:
        return TimeBudget(None)
    budget = TimeBudget(deadline, validation_batches=-(-config.valid_examples // config.batch_size))
    inputs, targets, weights = (array[: 2 * config.batch_size] for array in valid)
    model.evaluate(inputs, targets, sample_weight=weights, batch_size=config.batch_size, verbose=0,
                   callbacks=[budget])  # compiles the validation step and times its second batch
    probed = budget.speeds.eval_batch
    seconds = SAVE_SECONDS
    for lengths in buckets:
        inputs = generate(task, config.batch_size, lengths, rng=0)[0]
        model.predict(inputs, batch_size=config.batch_size, verbose=0)  # compiles
        started = time.monotonic()
        model.predict(inputs, batch_size=config.batch_size, verbose=0)
        seconds += (time.monotonic() - started) * -(-config.test_examples // config.batch_size)
    budget.reserve = lambda speeds: RESERVE_MARGIN * seconds * max(1.0, speeds.eval_batch / probed)
    needed = budget.reserve(budget.speeds) + budget.validation_batches * probed
    deadline.check_room(needed + 1.0, f"the validation, the evaluation of {len(buckets)} length buckets and training")
    log("synthetic", f"time budget: {deadline.remaining():.0f} s left; the validation and evaluation will take about "
                     f"{needed:.0f} s")
    return budget
