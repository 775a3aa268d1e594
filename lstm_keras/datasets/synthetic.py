"""Generated long-range memory tasks: the adding problem and the temporal-order problem.

Both come from Hochreiter & Schmidhuber (1997, "Long Short-Term Memory", Neural Computation
9(8)): the information a model needs sits at a few marked steps early in the sequence and must
survive many steps of distraction. Notebook 04 trains every gating configuration of `GatedLSTM`
on them.

| task | inputs | targets | a model that ignores the inputs |
|---|---|---|---|
| `adding_problem` | `(n, length, 2)` float32: a value and a marker | `(n,)` float32: the sum of the two marked values | MSE 2/12 (predicting 1.0) |
| `temporal_order_problem` | `(n, length, 6)` float32: one-hot symbols a, b, c, d, X, Y | `(n,)` int32: the class of XX, XY, YX, YY | accuracy 1/4 |

The generators use NumPy only. `rng` is a `np.random.Generator`, whose draws then continue (so
one generator gives training data, then different validation data), or a seed for a fresh one:
the same seed always gives the same sequences.
"""

import numbers

import numpy as np

# The symbols of the temporal-order problem, by index: four distractors and the two relevant symbols.
TEMPORAL_ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y")
# Its classes, by index: the relevant symbols in the order they appear.
TEMPORAL_ORDER_CLASSES = ("XX", "XY", "YX", "YY")


def adding_problem(n, length, rng=None):
    """Generates the adding problem: sum the two marked values of a sequence.

    Each step carries two numbers: a value drawn from U(0, 1) and a marker, 1 at exactly two steps
    (one in the first half of the sequence, one in the second) and 0 elsewhere. The target is the
    sum of the two marked values. This is the form of Arjovsky et al. (2016, "Unitary Evolution
    Recurrent Neural Networks") of Hochreiter & Schmidhuber's (1997) experiment 4, whose values lie
    in [-1, 1] with the first marker among the first ten steps.

    Args:
        n: the number of sequences, at least 1.
        length: the number of steps of every sequence, at least 2.
        rng: a `np.random.Generator` (its draws continue), a seed, or None for fresh randomness.

    Returns:
        A pair `(inputs, targets)`: `inputs` `(n, length, 2)` float32, the values in channel 0 and
        the markers in channel 1; `targets` `(n,)` float32.

    Example:
    >>> inputs, targets = adding_problem(4, 10, rng=0)
    >>> inputs.shape, inputs.dtype, targets.shape, targets.dtype
    ((4, 10, 2), dtype('float32'), (4,), dtype('float32'))
    >>> inputs[:, :, 1].sum(axis=1).tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    _check_arguments("adding_problem", n, length)
    rng = np.random.default_rng(rng)
    values = rng.uniform(0.0, 1.0, size=(n, length))  # (n, length)
    first = rng.integers(0, length // 2, size=n)  # (n,): a marker in the first half
    second = rng.integers(length // 2, length, size=n)  # (n,): and one in the second half
    markers = np.zeros((n, length))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    inputs = np.stack([values, markers], axis=-1).astype("float32")  # (n, length, 2)
    return inputs, (values * markers).sum(axis=1).astype("float32")  # (n,)


def temporal_order_problem(n, length, rng=None):
    """Generates the temporal-order problem: classify the order of two relevant symbols.

    A sequence of random distractor symbols a, b, c, d contains two relevant symbols, each X or Y:
    one early (between 10% and 20% of the length), one in the middle (between 50% and 60%). The
    class is their order, XX, XY, YX or YY (`TEMPORAL_ORDER_CLASSES`); chance is 1/4. This is
    Hochreiter & Schmidhuber's (1997) experiment 6a with the positions scaled to the length and
    without its start and end symbols.

    Args:
        n: the number of sequences, at least 1.
        length: the number of steps of every sequence, at least 2.
        rng: a `np.random.Generator` (its draws continue), a seed, or None for fresh randomness.

    Returns:
        A pair `(inputs, targets)`: `inputs` `(n, length, 6)` float32, one-hot symbols in the order
        of `TEMPORAL_ORDER_SYMBOLS`; `targets` `(n,)` int32, the class `2 * first_is_y + second_is_y`.

    Example:
    >>> inputs, targets = temporal_order_problem(4, 20, rng=0)
    >>> inputs.shape, inputs.dtype, targets.shape, targets.dtype
    ((4, 20, 6), dtype('float32'), (4,), dtype('int32'))
    >>> inputs[:, :, 4:].sum(axis=(1, 2)).tolist()  # two relevant symbols per sequence
    [2.0, 2.0, 2.0, 2.0]
    """
    _check_arguments("temporal_order_problem", n, length)
    rng = np.random.default_rng(rng)
    symbols = rng.integers(0, 4, size=(n, length))  # (n, length): distractors a..d
    first = rng.integers(int(0.1 * length), max(int(0.2 * length), int(0.1 * length) + 1), size=n)  # (n,)
    second = rng.integers(int(0.5 * length), max(int(0.6 * length), int(0.5 * length) + 1), size=n)  # (n,)
    first_is_y = rng.integers(0, 2, size=n)  # (n,): 0 for X, 1 for Y
    second_is_y = rng.integers(0, 2, size=n)
    symbols[np.arange(n), first] = 4 + first_is_y
    symbols[np.arange(n), second] = 4 + second_is_y
    inputs = np.eye(6, dtype="float32")[symbols]  # (n, length, 6)
    return inputs, (2 * first_is_y + second_is_y).astype("int32")  # (n,)


def _check_arguments(name, n, length):
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name}: n must be an integer >= 1, received n={n!r}")
    # Two steps at least: the two marked (or relevant) steps must be different steps.
    if not isinstance(length, numbers.Integral) or isinstance(length, bool) or length < 2:
        raise ValueError(f"{name}: length must be an integer >= 2, received length={length!r}")
