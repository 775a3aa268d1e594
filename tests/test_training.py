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
