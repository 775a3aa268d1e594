"""Seeding, the NaN stop and the standard callbacks (`lstm_keras.training`)."""

import os

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


def test_anneal_before_budget_lowers_the_learning_rate_once_before_the_last_epoch(monkeypatch):
    from lstm_keras import training

    clock = [0.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: clock[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=1.0), "mse")
    callback = training.AnnealBeforeBudget(minutes=1.5, factor=0.25)  # 90 s
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch in range(4):  # epochs of 20 s: 70 s left after the first, 50, 30, 10
        clock[0] += 20.0
        callback.on_epoch_end(epoch)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    # Two epochs = 40 s: not with 50 s left; with 30 s left the next epoch is the last full
    # one, so the rate drops then, once.
    assert rates == [1.0, 1.0, 0.25, 0.25]
    assert callback.annealed_after_epoch == 2


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
