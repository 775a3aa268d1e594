"""Tests of the generated long-range tasks (`lstm_keras.datasets.synthetic`), against expectations computed here."""

import doctest
import subprocess
import sys

import numpy as np
import pytest

from lstm_keras.datasets import synthetic as synthetic_module
from lstm_keras.datasets.synthetic import adding_problem
from lstm_keras.datasets.synthetic import temporal_order_problem

# The temporal-order encoding, written from the task's description: symbols a, b, c, d, X, Y by
# index, and the class of each order of the two relevant symbols.
SYMBOLS = "abcdXY"
CLASSES = {"XX": 0, "XY": 1, "YX": 2, "YY": 3}


@pytest.mark.parametrize("length", [2, 3, 7, 20, 51])
def test_adding_problem_shapes_markers_and_targets(length):
    inputs, targets = adding_problem(64, length, np.random.default_rng(0))
    assert inputs.shape == (64, length, 2) and inputs.dtype == np.float32
    assert targets.shape == (64,) and targets.dtype == np.float32
    values, markers = inputs[..., 0], inputs[..., 1]
    assert np.all((values >= 0.0) & (values < 1.0))
    assert set(np.unique(markers).tolist()) <= {0.0, 1.0}
    for row in range(64):
        marked = np.flatnonzero(markers[row] == 1.0)
        assert len(marked) == 2, marked
        assert marked[0] < length // 2 <= marked[1]  # one in the first half, one in the second
        expected = float(values[row, marked[0]]) + float(values[row, marked[1]])
        assert targets[row] == pytest.approx(expected, abs=1e-6)


def test_adding_problem_mean_predictor_error_is_two_twelfths():
    _, targets = adding_problem(20000, 30, 1)
    assert targets.mean() == pytest.approx(1.0, abs=0.01)
    assert np.mean((targets - 1.0) ** 2) == pytest.approx(2.0 / 12.0, abs=0.01)


@pytest.mark.parametrize("length", [2, 3, 10, 100])
def test_temporal_order_problem_shapes_symbols_and_labels(length):
    inputs, targets = temporal_order_problem(64, length, np.random.default_rng(0))
    assert inputs.shape == (64, length, 6) and inputs.dtype == np.float32
    assert targets.shape == (64,) and targets.dtype == np.int32
    assert np.array_equal(inputs.sum(axis=-1), np.ones((64, length)))  # one-hot: one symbol per step
    for row in range(64):
        sequence = "".join(SYMBOLS[k] for k in inputs[row].argmax(axis=-1))
        relevant = [(t, s) for t, s in enumerate(sequence) if s in "XY"]
        assert len(relevant) == 2, sequence
        (first, a), (second, b) = relevant
        assert targets[row] == CLASSES[a + b], (sequence, targets[row])
        if length == 100:  # early between 10% and 20% of the length, then between 50% and 60%
            assert 10 <= first < 20 and 50 <= second < 60, sequence


def test_temporal_order_classes_are_balanced():
    _, targets = temporal_order_problem(8000, 20, 2)
    frequencies = np.bincount(targets, minlength=4) / len(targets)
    np.testing.assert_allclose(frequencies, 0.25, atol=0.03)


@pytest.mark.parametrize("generate", [adding_problem, temporal_order_problem])
def test_same_seed_same_data_and_generators_continue(generate):
    first, second = generate(16, 25, 7), generate(16, 25, 7)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    # A generator given as `rng` is the same stream as its seed, and its draws continue.
    rng = np.random.default_rng(7)
    from_rng = generate(16, 25, rng)
    assert all(np.array_equal(a, b) for a, b in zip(first, from_rng))
    after = generate(16, 25, rng)
    assert not np.array_equal(first[0], after[0])
    assert not np.array_equal(first[0], generate(16, 25, 8)[0])


@pytest.mark.parametrize("generate", [adding_problem, temporal_order_problem])
@pytest.mark.parametrize(
    "n, length, argument",
    [(0, 10, "n"), (-3, 10, "n"), (2.5, 10, "n"), (True, 10, "n"), (4, 1, "length"), (4, 0, "length"),
     (4, "10", "length"), (4, 10.0, "length")],
)
def test_invalid_arguments_raise_value_error_naming_them(generate, n, length, argument):
    value = n if argument == "n" else length
    with pytest.raises(ValueError, match=rf"{generate.__name__}: {argument} must be .* received {argument}={value!r}"):
        generate(n, length, 0)


def test_numpy_only():
    code = "import sys, lstm_keras.datasets.synthetic; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_docstring_examples():
    assert doctest.testmod(synthetic_module).failed == 0
