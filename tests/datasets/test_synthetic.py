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


# ------------------------------------------------------------------ the token tasks, checked from their definitions
def scored(targets, weights, row):
    return [(int(t), int(v)) for t, (v,) in zip(np.flatnonzero(weights[row]), targets[row][weights[row] > 0, None])]


@pytest.mark.parametrize("length", [1, 2, 7, 40])
def test_parity_and_even_pairs_from_the_strings(length):
    bits, parity_targets, weights = synthetic_module.parity(200, length, rng=0)
    symbols, pairs_targets, pairs_weights = synthetic_module.even_pairs(200, length, rng=1)
    for row in range(200):
        string = "".join("01"[t - 1] for t in bits[row])
        assert scored(parity_targets, weights, row) == [(length - 1, string.count("1") % 2)]
        text = "".join("ab"[t - 1] for t in symbols[row])
        ab = sum(text[i:i + 2] == "ab" for i in range(length - 1))
        ba = sum(text[i:i + 2] == "ba" for i in range(length - 1))
        assert scored(pairs_targets, pairs_weights, row) == [(length - 1, int(ab == ba))]
    if length > 2:  # both classes come up about as often
        assert 0.35 < parity_targets[:, -1].mean() < 0.65 and 0.35 < pairs_targets[:, -1].mean() < 0.65


@pytest.mark.parametrize("length", [1, 3, 8, 41])
def test_modular_arithmetic_against_python_precedence(length):
    inputs, targets, weights = synthetic_module.modular_arithmetic(300, length, rng=2)
    terms = length if length % 2 else length - 1
    assert (inputs[:, terms:] == 0).all()
    for row in range(300):
        expression = "".join("01234+-*"[t - 1] for t in inputs[row, :terms])
        assert scored(targets, weights, row) == [(terms - 1, eval(expression) % 5)], expression
    if length > 3:
        assert len(np.unique(targets[:, terms - 1])) == 5


def test_mqar_queries_every_stored_key_once():
    inputs, targets, weights = synthetic_module.mqar(100, 40, rng=3, num_pairs=8, num_keys=20, num_values=10)
    for row in range(100):
        pairs = inputs[row, :16].reshape(8, 2)
        assert len(set(pairs[:, 0].tolist())) == 8 and (pairs[:, 0] <= 20).all()
        assert ((pairs[:, 1] > 20) & (pairs[:, 1] <= 30)).all()
        stored = dict(pairs.tolist())
        asked = scored(targets, weights, row)
        assert len(asked) == 8 and all(position >= 16 for position, _ in asked)
        assert sorted(inputs[row, p] for p, _ in asked) == sorted(stored)
        assert all(stored[inputs[row, p]] == value for p, value in asked)
        others = np.setdiff1d(np.arange(16, 40), [p for p, _ in asked])
        assert (inputs[row, others] == 31).all()  # filler
    # With less room after the pairs than keys, as many keys as there are places are asked.
    _, _, weights = synthetic_module.mqar(5, 19, rng=4, num_pairs=8, num_keys=20, num_values=10)
    assert weights.sum(axis=1).tolist() == [3.0] * 5
    with pytest.raises(ValueError, match="length"):
        synthetic_module.mqar(5, 16, num_pairs=8)


def test_selective_copying_copies_the_data_tokens_in_order():
    inputs, targets, weights = synthetic_module.selective_copying(100, 30, rng=5, num_tokens=5, vocabulary=6)
    for row in range(100):
        region = inputs[row, :24]
        data = region[region != 7].tolist()  # 7: noise
        assert len(data) == 5 and all(1 <= t <= 6 for t in data)
        assert inputs[row, 24] == 8 and (inputs[row, 25:] == 9).all()
        assert scored(targets, weights, row) == list(zip(range(25, 30), data))


@pytest.mark.parametrize("name", sorted(synthetic_module.TASKS))
def test_generate_pads_after_each_sequence_and_repeats_with_a_seed(name):
    task = synthetic_module.TASKS[name]
    lengths = task.train_lengths
    inputs, targets, weights = synthetic_module.generate(name, 64, lengths, rng=6)
    assert inputs.shape[:2] == targets.shape == weights.shape == (64, lengths[1])
    assert inputs.dtype == (np.float32 if task.input_features else np.int32)
    assert targets.dtype == (np.int32 if task.num_classes else np.float32)
    if task.input_features is None:
        assert inputs.max() < task.vocabulary_size
        assert targets[weights > 0].max() < task.num_classes
    read = inputs.reshape(64, lengths[1], -1).any(axis=-1)  # (64, T): a token or features, not padding
    for row in range(64):
        length = np.flatnonzero(read[row]).max() + 1
        assert lengths[0] <= length and read[row, :length].all()  # padding only after the sequence
        assert not weights[row, length:].any() and weights[row].any()
    again = synthetic_module.generate(name, 64, lengths, rng=6)
    for first, second in zip((inputs, targets, weights), again):
        np.testing.assert_array_equal(first, second)


def test_formal_languages_draw_lengths_across_the_range_and_scaled_scores():
    _, _, weights = synthetic_module.generate("parity", 500, (3, 40), rng=7)
    lengths = np.argmax(weights, axis=1) + 1
    assert lengths.min() == 3 and lengths.max() == 40
    assert synthetic_module.scaled_score("modular-arithmetic", accuracy=0.2) == pytest.approx(0.0)
    assert synthetic_module.scaled_score("parity", accuracy=1.0) == 1.0
    assert synthetic_module.scaled_score("adding", mse=2 / 12) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="length"):
        synthetic_module.generate("parity", 4, (0, 3))
