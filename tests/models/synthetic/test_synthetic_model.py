"""The model and recipe of the generated tasks (`lstm_keras.models.synthetic`)."""

import keras
import numpy as np
import pytest

from lstm_keras.datasets.synthetic import TASKS
from lstm_keras.datasets.synthetic import generate
from lstm_keras.models.synthetic import build_synthetic_model
from lstm_keras.models.synthetic import compile_synthetic_model
from lstm_keras.models.synthetic import evaluate_by_length
from lstm_keras.models.synthetic import scored_results
from lstm_keras.models.synthetic.training import TaskBatches


@pytest.mark.parametrize("task_name, cell", [("parity", "lstm"), ("mqar", "mingru"), ("adding", "slstm"),
                                             ("modular-arithmetic", "xlstm[1:1]"), ("temporal-order", "mlstm")])
def test_outputs_are_causal_so_padding_is_never_read(task_name, cell):
    task = TASKS[task_name]
    model = build_synthetic_model(task, cell=cell, layers=2, units=8)
    inputs, _, _ = generate(task, 3, task.train_lengths, rng=0)
    changed = inputs.copy()
    changed[:, 20:] = inputs[::-1, 20:]  # other inputs after step 20
    before, after = (keras.ops.convert_to_numpy(model(x)) for x in (inputs, changed))
    assert before.shape == inputs.shape[:2] + (task.num_classes or 1,)
    np.testing.assert_allclose(after[:, :20], before[:, :20], atol=1e-5)
    assert not np.allclose(after[:, 20:], before[:, 20:], atol=1e-5)


def test_scored_results_count_only_the_scored_positions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 6, 5))
    targets = rng.integers(0, 5, size=(4, 6))
    weights = (rng.random((4, 6)) < 0.5).astype("float32")
    weights[0, 0] = 1.0
    expected = np.mean([logits[i, t].argmax() == targets[i, t] for i, t in zip(*np.nonzero(weights))])
    result = scored_results(TASKS["modular-arithmetic"], logits, targets, weights)
    assert result["scored"] == int(weights.sum())
    assert result["accuracy"] == pytest.approx(expected)
    assert result["scaled"] == pytest.approx((expected - 0.2) / 0.8)
    numbers = rng.normal(size=(4, 6, 1))
    mse = np.mean([(numbers[i, t, 0] - 1.0) ** 2 for i, t in zip(*np.nonzero(weights))])
    result = scored_results(TASKS["adding"], numbers, np.ones((4, 6)), weights)
    assert result["mse"] == pytest.approx(mse) and result["scaled"] == pytest.approx(1 - mse * 6)


def test_batches_are_fresh_every_epoch_and_repeat_with_the_seed():
    task = TASKS["parity"]
    batches = TaskBatches(task, (3, 12), batch_size=16, steps=4, seed=1)
    first = batches[2]
    assert len(batches) == 4 and first[0].shape == first[1].shape == first[2].shape == (16, 12)
    np.testing.assert_array_equal(TaskBatches(task, (3, 12), 16, 4, seed=1)[2][0], first[0])
    batches.on_epoch_end()
    assert not np.array_equal(batches[2][0], first[0])
    adding = TaskBatches(TASKS["adding"], (10, 10), 8, 1, seed=0)[0]
    assert adding[0].shape == (8, 10, 2) and adding[1].shape == (8, 10, 1)  # the regression head's last axis


def test_an_lstm_learns_even_pairs_and_extrapolates():
    """Even pairs needs only the first symbol kept: an LSTM solves it, at lengths it never saw too."""
    keras.utils.set_random_seed(0)
    task = TASKS["even-pairs"]
    model = build_synthetic_model(task, "lstm", units=16)
    compile_synthetic_model(model, task, learning_rate=1e-2)
    model.fit(TaskBatches(task, (3, 12), 32, 40, seed=0), epochs=6, verbose=0)
    results = evaluate_by_length(model, task, [(3, 12), (30, 40)], examples=128, rng=1)
    assert list(results) == ["3-12", "30-40"]
    assert results["3-12"]["accuracy"] > 0.95 and results["30-40"]["scaled"] > 0.8, results


def test_the_trained_model_reloads_from_its_file_with_the_same_outputs(tmp_path):
    """An LSTM model (each cell's own saving is tested in tests/layers, the xLSTM stack's in test_xlstm.py)."""
    from lstm_keras.saving import load_keras_model

    task = TASKS["mqar"]
    model = build_synthetic_model(task, "lstm", layers=2, units=8)
    compile_synthetic_model(model, task)
    before = [w.copy() for w in model.get_weights()]
    model.fit(TaskBatches(task, task.train_lengths, 4, 1, seed=0), epochs=1, verbose=0)
    assert all(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()) if b.ndim == 2)
    model.save(tmp_path / "model.keras")
    reloaded = load_keras_model(tmp_path / "model.keras")
    inputs = generate(task, 3, task.train_lengths, rng=5)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(inputs)),
                               keras.ops.convert_to_numpy(model(inputs)), atol=1e-5)
