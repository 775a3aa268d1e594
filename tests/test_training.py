"""Seeding, the NaN stop and the standard callbacks (`lstm_keras.training`)."""

import math
import os
import time

import keras
import numpy as np
import pytest

from lstm_keras.layers import GatedLSTM
from lstm_keras.training import NonFiniteLossError
from lstm_keras.training import set_seed
from lstm_keras.training import standard_callbacks


def train_once(seed, out_dir, learning_rate=0.05, epochs=2):
    set_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((8, 3)), GatedLSTM(6, variant="cifg", dropout=0.2), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    history = model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.25, verbose=0,
                        callbacks=standard_callbacks(str(out_dir), patience=5))
    return model, history.history


def test_same_seed_same_weights_and_metrics(tmp_path):
    first, history_first = train_once(3, tmp_path / "a")
    second, history_second = train_once(3, tmp_path / "b")
    assert history_first == history_second
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    third, _ = train_once(4, tmp_path / "c")
    assert not np.array_equal(first.get_weights()[0], third.get_weights()[0])


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    model, _ = train_once(0, tmp_path, epochs=1)
    best = tmp_path / "checkpoints" / "best.weights.h5"
    saved = best.read_bytes()
    x = np.full((16, 8, 3), np.nan, "float32")
    y = np.zeros((16, 1), "float32")
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1, batch 1.*best.weights.h5"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y),
                  callbacks=standard_callbacks(str(tmp_path), patience=5))
    assert best.read_bytes() == saved
    assert os.path.exists(tmp_path / "history.csv")


def test_a_nan_in_the_first_epoch_names_no_checkpoint_that_does_not_exist(tmp_path):
    set_seed(0)
    model = keras.Sequential([keras.Input((8, 3)), GatedLSTM(4), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.full((16, 8, 3), np.nan, "float32")
    with pytest.raises(NonFiniteLossError, match="no epoch had ended, so there is no checkpoint") as error:
        model.fit(x, np.zeros((16, 1), "float32"), batch_size=16, epochs=1, verbose=0,
                  callbacks=standard_callbacks(str(tmp_path), patience=5))
    assert "best.weights.h5" not in str(error.value)


def test_curves_of_a_resumed_run_show_every_epoch_on_integer_ticks(tmp_path):
    import matplotlib.pyplot as plt

    from lstm_keras.plots import plot_history
    from lstm_keras.training import logged_history

    history_csv = tmp_path / "history.csv"
    history_csv.write_text("epoch,loss,val_loss\n0,2.0,2.5\n1,1.5,2.0\n2,1.0,1.8\n")  # 2 epochs, then 1 resumed
    resumed = keras.callbacks.History()
    resumed.epoch, resumed.history = [2], {"loss": [1.0], "val_loss": [1.8]}
    assert logged_history(str(tmp_path), resumed) == str(history_csv)
    figure = plot_history(logged_history(str(tmp_path), resumed), metrics=["loss"])
    axis = figure.axes[0]
    assert [list(line.get_xdata()) for line in axis.get_lines()] == [[1, 2, 3], [1, 2, 3]]
    assert list(axis.get_lines()[0].get_ydata()) == [2.0, 1.5, 1.0]
    assert all(float(tick).is_integer() for tick in axis.get_xticks())
    plt.close(figure)
    # Without a CSV, the History's own epochs are numbered from where it resumed.
    figure = plot_history(resumed, metrics=["loss"])
    assert list(figure.axes[0].get_lines()[0].get_xdata()) == [3]
    plt.close(figure)


class FakeClock:
    """A clock that the training batches of a test move forward."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class AdvanceClock(keras.callbacks.Callback):
    """Moves a `FakeClock` by `train` seconds every training batch and `test` seconds every evaluation batch."""

    def __init__(self, clock, train, test=0.0):
        super().__init__()
        self.clock, self.train, self.test = clock, train, test
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.clock.now += self.train
        self.batches += 1

    def on_test_batch_end(self, batch, logs=None):
        self.clock.now += self.test


class RecordRate(keras.callbacks.Callback):
    """Appends the optimizer's learning rate to `rates` as each training batch begins (or ends)."""

    def __init__(self, rates, after_batch=False):
        super().__init__()
        self.rates, self.after_batch = rates, after_batch

    def _record(self):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_train_batch_begin(self, batch, logs=None):
        if not self.after_batch:
            self._record()

    def on_train_batch_end(self, batch, logs=None):
        if self.after_batch:
            self._record()


def tiny_regression():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=1.0), "mse")
    x = np.zeros((40, 2), "float32")
    return model, x, np.zeros((40, 1), "float32")


def test_time_budget_stops_inside_an_epoch_leaving_the_reserve_and_the_validation():
    from lstm_keras import training

    clock = FakeClock()
    # 100 s from a command that started 10 s ago; batches of 2 s; 30 s kept for what follows training.
    deadline = training.Deadline(100 / 60, started=clock.now - 10.0, clock=clock)
    budget = training.TimeBudget(deadline, reserve=30.0)
    model, x, y = tiny_regression()
    advance = AdvanceClock(clock, train=2.0, test=1.0)
    # The callbacks run in order: the clock moves at a batch's begin, the budget reads it at the end.
    history = model.fit(x[:20], y[:20], batch_size=1, epochs=3, validation_data=(x[:4], y[:4]),
                        callbacks=[advance, budget], verbose=0)
    # Epoch 1: 10 s gone + 20 batches of 2 s + a validation of 4 batches of 1 s (counted then): 46 s left.
    # Epoch 2 stops after the batch that leaves less than 2 (a batch) + 4 (its validation) + 30 s: the 6th,
    # with 34 s left, then validates: 30 s are left for the work after training.
    assert budget.stopped and history.epoch == [0, 1]
    assert advance.batches == 26
    assert deadline.remaining() == pytest.approx(30.0)
    assert budget.speeds.train_batch == pytest.approx(2.0) and budget.speeds.eval_batch == pytest.approx(1.0)
    assert budget.validation_batches == 4


def test_time_budget_refreshes_its_reserve_before_it_stops_and_goes_on_if_that_frees_time():
    from lstm_keras import training

    clock = FakeClock()
    deadline = training.Deadline(100 / 60, started=clock.now - 10.0, clock=clock)
    reserve = {"seconds": 30.0}
    refreshed = []

    def refresh():  # takes 1 s; the work after training turns out to need 10 s, not 30
        clock.now += 1.0
        reserve["seconds"] = 10.0
        refreshed.append(deadline.remaining())

    budget = training.TimeBudget(deadline, reserve=lambda speeds: reserve["seconds"], refresh=refresh)
    model, x, y = tiny_regression()
    advance = AdvanceClock(clock, train=2.0, test=1.0)
    history = model.fit(x[:20], y[:20], batch_size=1, epochs=3, validation_data=(x[:4], y[:4]),
                        callbacks=[advance, budget], verbose=0)
    # As in the test above, the 6th batch of epoch 2 leaves 34 s, less than 2 + 4 + 30: the refresh (33 s left)
    # lowers the reserve to 10, and training goes on until a batch leaves less than 2 + 4 + 10 (the 15th, 15 s
    # left); 18 s have passed since the refresh, more than 10 times its 1 s, so it is refreshed once more
    # (14 s left), then stopped; the validation leaves the 10 s.
    assert budget.stopped and history.epoch == [0, 1]
    assert refreshed == [pytest.approx(33.0), pytest.approx(14.0)]
    assert advance.batches == 35
    assert deadline.remaining() == pytest.approx(10.0)


def test_time_budget_reserve_follows_the_measured_evaluation_speed():
    from lstm_keras import training

    clock = FakeClock()
    deadline = training.Deadline(1, clock=clock)  # 60 s
    # The work after training: 10 evaluation batches.
    budget = training.TimeBudget(deadline, reserve=lambda speeds: 10 * speeds.eval_batch)
    model, x, y = tiny_regression()
    model.fit(x, y, batch_size=1, epochs=5, callbacks=[AdvanceClock(clock, train=1.0), budget], verbose=0)
    # No validation timed: an evaluation batch is projected at EVAL_BATCH_COST (0.5) training batches, so the
    # reserve is 5 s and training stops after the batch that leaves less than 1 + 5 s.
    assert budget.stopped
    assert 5.0 <= deadline.remaining() < 6.0


class SlowDown(AdvanceClock):
    """An `AdvanceClock` whose training batches take `slow` seconds from batch `after` on, and one batch `pause`."""

    def __init__(self, clock, train, slow, after, pause_at=None, pause=0.0):
        super().__init__(clock, train)
        self.slow, self.after, self.pause_at, self.pause = slow, after, pause_at, pause

    def on_train_batch_end(self, batch, logs=None):
        self.train = self.slow if self.batches >= self.after else self.train
        if self.batches == self.pause_at:
            self.clock.now += self.pause
        super().on_train_batch_end(batch, logs)


def test_time_budget_projects_what_is_left_at_the_machines_current_speed():
    from lstm_keras import training

    window = training.SPEED_WINDOW

    def run(slow, pause=0.0):
        clock = FakeClock()
        deadline = training.Deadline(10, clock=clock)  # 600 s
        budget = training.TimeBudget(deadline, reserve=100.0)
        model, x, y = tiny_regression()
        # 1 s batches; from batch 4 windows on, `slow` s; one batch in the second window pauses `pause` s.
        advance = SlowDown(clock, train=1.0, slow=slow, after=4 * window + 1, pause_at=window + 5, pause=pause)
        model.fit(np.zeros((1000, 2), "float32"), np.zeros((1000, 1), "float32"), batch_size=1, epochs=1,
                  callbacks=[advance, budget], verbose=0)
        return budget, deadline

    # Steady batches: no slowdown, training stops leaving the reserve and one batch.
    budget, deadline = run(slow=1.0)
    assert budget.speeds.slowdown == 1.0 and 100.0 <= deadline.remaining() < 101.0 + 1e-9
    # One 50 s pause moves no window's median: the same projection, the time lost to training only.
    budget, deadline = run(slow=1.0, pause=50.0)
    assert budget.speeds.slowdown == 1.0 and 100.0 <= deadline.remaining() < 101.0 + 1e-9
    # Batches three times slower: once a window of them is full, the reserve is projected three times longer.
    budget, deadline = run(slow=3.0)
    assert budget.speeds.slowdown == pytest.approx(3.0)
    assert budget.needed() == pytest.approx(3.0 * (budget.speeds.train_batch + 100.0))
    # It stopped with the reserve at the current speed left (without the slowdown: about 100 s).
    assert deadline.remaining() >= 3.0 * 100.0


def test_deadline_counts_from_the_command_start_and_shares_what_is_left():
    from lstm_keras import training

    with training.command_clock(started=time.monotonic() - 50.0):
        deadline = training.Deadline(1)
        assert 9.0 < deadline.remaining() <= 10.0  # 60 s budget, 50 s already gone
        with pytest.raises(ValueError, match="--time-budget 1 minutes is too small"):
            deadline.check_room(20.0, "the evaluation")
    assert training.Deadline(1).remaining() > 59.0  # outside a command: from now
    assert training.Deadline(None).remaining() == math.inf and not training.Deadline(None)
    clock = FakeClock()
    part = training.Deadline(10, clock=clock).share(4, reserve=200.0)
    assert part.remaining() == pytest.approx(100.0)


def test_anneal_before_budget_lowers_the_rate_once_for_the_last_quarter_of_training():
    from lstm_keras import training

    clock = FakeClock()
    budget = training.TimeBudget(training.Deadline(100 / 60, clock=clock))
    anneal = training.AnnealBeforeBudget(budget, factor=0.25)
    model, x, y = tiny_regression()
    rates = []
    recorder = RecordRate(rates, after_batch=True)
    model.fit(x, y, batch_size=1, epochs=10, callbacks=[AdvanceClock(clock, train=2.0), budget, anneal, recorder],
              verbose=0)
    # 2 s batches in 100 s: about 49 batches; the rate drops when fewer than a quarter of them are left, once.
    assert budget.stopped
    annealed = rates.index(0.25)
    assert set(rates[:annealed]) == {1.0} and set(rates[annealed:]) == {0.25}
    assert 0.2 <= (len(rates) - annealed) / len(rates) <= 0.3


def test_cosine_to_budget_spans_the_training_time_the_budget_leaves():
    from lstm_keras import training

    clock = FakeClock()
    budget = training.TimeBudget(training.Deadline(100 / 60, clock=clock))
    schedule = training.CosineToBudget(budget, peak=1.0, warmup_share=0.1, floor=0.1)
    model, x, y = tiny_regression()
    rates = []
    model.fit(x, y, batch_size=1, epochs=10,
              callbacks=[AdvanceClock(clock, train=2.0), budget, schedule, RecordRate(rates)], verbose=0)
    # 2 s batches in 100 s: about 49 batches. The k-th batch starts at p = 2k / 100 (the time left is
    # projected from the measured batches); the rate rises over the first tenth, then follows the cosine.
    assert budget.stopped and 45 <= len(rates) <= 50
    peak_at = int(np.argmax(rates))
    assert 4 <= peak_at <= 6 and rates[peak_at] == pytest.approx(1.0, abs=0.05)
    assert rates[0] == pytest.approx(0.1) and np.all(np.diff(rates[:peak_at + 1]) > 0)
    assert np.all(np.diff(rates[peak_at:]) < 0) and rates[-1] < 0.15
    middle = len(rates) // 2 + 2  # p about 0.55: halfway down the cosine
    expected = 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * (2 * middle / 100 - 0.1) / 0.9))
    assert rates[middle] == pytest.approx(expected, abs=0.05)

    # 20 batches (40 s) under the same budget: the run ends by its steps first, and the schedule follows them.
    clock = FakeClock()
    budget = training.TimeBudget(training.Deadline(100 / 60, clock=clock))
    schedule = training.CosineToBudget(budget, peak=1.0, warmup_share=0.1, floor=0.1, steps=20)
    rates.clear()
    model.fit(x[:20], y[:20], batch_size=1, epochs=1, callbacks=[AdvanceClock(clock, train=2.0), budget, schedule,
                                                                 RecordRate(rates)], verbose=0)
    assert len(rates) == 20 and not budget.stopped
    assert rates[2] == pytest.approx(1.0) and rates[-1] == pytest.approx(schedule.rate(19 / 20)) and rates[-1] < 0.15


class ScriptedValLoss(keras.callbacks.Callback):
    """Replaces the validation loss of every epoch with a given value, before the standard callbacks see it."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


class RecordWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.by_epoch = {}

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch[epoch] = self.model.get_weights()


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt(f"interrupted before epoch {epoch}")


def test_a_resumed_run_keeps_the_best_value_the_patience_spent_and_the_best_weights(tmp_path):
    # Best validation loss after epoch 1; with patience 3 the run stops after epoch 4 and
    # restores epoch 1's weights. Interrupted before epoch 3, then resumed by a fresh model with
    # fresh callbacks (as in a new process), it must do exactly the same.
    val_losses = [1.0, 0.5, 0.8, 0.9, 0.95, 0.3, 0.2, 0.1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")

    def run(out_dir, extra=()):
        set_seed(0)
        model = keras.Sequential([keras.Input((6, 3)), GatedLSTM(4), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        recorder = RecordWeights()
        callbacks = [ScriptedValLoss(val_losses), recorder, *standard_callbacks(str(out_dir), patience=3), *extra]
        history = model.fit(x, y, batch_size=8, epochs=len(val_losses), validation_data=(x, y), verbose=0,
                            shuffle=False, callbacks=callbacks)
        return model, history, recorder.by_epoch

    whole, whole_history, weights = run(tmp_path / "whole")
    assert whole_history.epoch == [0, 1, 2, 3, 4]  # stopped by patience, not by the last epoch
    for a, b in zip(whole.get_weights(), weights[1]):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", extra=[Interrupt(at_epoch=3)])
    resumed, resumed_history, _ = run(tmp_path / "resumed")
    assert resumed_history.epoch == [3, 4]  # resumed after epoch 2 and stopped after epoch 4, as the whole run
    for a, b in zip(resumed.get_weights(), weights[1]):  # epoch 1's weights restored at the end
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    best = keras.Sequential([keras.Input((6, 3)), GatedLSTM(4), keras.layers.Dense(1)])
    best.load_weights(tmp_path / "resumed" / "checkpoints" / "best.weights.h5")
    for a, b in zip(best.get_weights(), weights[1]):  # not overwritten by the worse epochs 3 and 4
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_runs_share_a_deadline_one_after_the_other():
    from lstm_keras import training

    clock = FakeClock()
    deadline = training.Deadline(100 / 60, clock=clock)
    budget = training.TimeBudget(deadline.runs(2, reserve=20.0))  # 80 s for two runs
    advance = AdvanceClock(clock, train=1.0)
    model, x, y = tiny_regression()
    model.fit(x, y, batch_size=1, epochs=5, callbacks=[advance, budget], verbose=0)
    first = advance.batches
    assert budget.stopped and 38 <= first <= 40  # half of the 80 s, less a batch
    model.fit(x, y, batch_size=1, epochs=5, callbacks=[advance, budget], verbose=0)
    second = advance.batches - first
    assert 38 <= second <= 41  # what is left of the 80 s
    assert 19.0 <= deadline.remaining() <= 22.0  # the reserve is kept for the command's last step


def test_a_budget_too_small_for_the_first_epoch_is_an_error_a_few_batches_into_it():
    from lstm_keras import training

    clock = FakeClock()
    # 60 s; batches of 2 s, 20 an epoch: the epoch alone needs 40 s, and 30 s are kept after it. After 6 batches
    # (12 s), the other 14 (28 s) and the reserve need 58 s: 1.3 minutes with a tenth more, rounded up.
    deadline = training.Deadline(1, clock=clock)
    budget = training.TimeBudget(deadline, reserve=30.0, whole_epoch=True)
    model, x, y = tiny_regression()
    advance = AdvanceClock(clock, train=2.0, test=1.0)
    with pytest.raises(ValueError, match=r"--time-budget 1 minutes is too small for one epoch: after 6 of its 20 "
                                         r"batches \(12 s into the command\), .* need about 58 s more and 48 s are "
                                         r"left: "
                                         r"give at least 1\.3 minutes, or no --time-budget"):
        model.fit(x[:20], y[:20], batch_size=1, epochs=3, callbacks=[advance, budget], verbose=0)
    assert advance.batches == 6
    # With room for the epoch, nothing is raised; without `whole_epoch`, the budget stops training instead.
    for minutes, whole_epoch in ((2, True), (1, False)):
        clock = FakeClock()
        budget = training.TimeBudget(training.Deadline(minutes, clock=clock), reserve=30.0, whole_epoch=whole_epoch)
        model.fit(x[:20], y[:20], batch_size=1, epochs=1, callbacks=[AdvanceClock(clock, train=2.0), budget], verbose=0)
        assert budget.stopped == (minutes == 1)
