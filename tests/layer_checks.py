"""`check_layer`: the one helper every layer test uses (after Keras' `run_layer_test`).

It exercises a layer end to end: build, eager call, symbolic (functional) call, a config
round-trip, a `.keras` save/load round-trip in the same process, and one training step.
"""

import os

import keras
import numpy as np


def check_layer(make_layer, inputs, call_kwargs=None, tmp_dir=None, atol=1e-5, train=True):
    """Checks one layer in every way a user will use it.

    Args:
        make_layer: a zero-argument callable returning a fresh layer.
        inputs: a list of NumPy arrays, passed positionally to the layer.
        call_kwargs: extra keyword arguments for the call (e.g. `return_attention_scores`).
        tmp_dir: a folder for the `.keras` file (pytest's `tmp_path`).
        atol: tolerance of the round-trip comparisons.
        train: whether to run one training step and check that every trainable weight moves.

    Returns:
        The eager outputs (a NumPy array or a list of them) for further assertions.
    """
    call_kwargs = call_kwargs or {}
    layer = make_layer()
    eager = _to_numpy(layer(*inputs, **call_kwargs))

    # Config round-trip: same class, same config.
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config

    # Symbolic call inside a functional model gives the eager result.
    symbolic_inputs = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in inputs]
    outputs = layer(*symbolic_inputs, **call_kwargs)
    model = keras.Model(symbolic_inputs, outputs)
    functional = _to_numpy(model(inputs))
    _assert_all_close(functional, eager, atol)

    # `.keras` round-trip gives the same outputs.
    if tmp_dir is not None:
        path = os.path.join(str(tmp_dir), "layer.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
        _assert_all_close(_to_numpy(reloaded(inputs)), eager, atol)

    if train and layer.trainable_weights:
        _check_training_step(model, inputs, layer)
    return eager


def _check_training_step(model, inputs, layer):
    before = [np.array(w) for w in layer.trainable_weights]
    outputs = model(inputs)
    targets = [np.random.default_rng(0).normal(size=o.shape).astype("float32") for o in keras.tree.flatten(outputs)]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse"] * len(targets))
    model.fit(inputs, targets if len(targets) > 1 else targets[0], epochs=1, batch_size=len(inputs[0]), verbose=0)
    moved = [not np.allclose(b, np.array(w)) for b, w in zip(before, layer.trainable_weights)]
    names = [w.path for w in layer.trainable_weights]
    assert all(moved), f"weights not updated by a training step: {[n for n, m in zip(names, moved) if not m]}"


def _to_numpy(outputs):
    flat = keras.tree.flatten(outputs)
    arrays = [keras.ops.convert_to_numpy(x) for x in flat]
    return arrays[0] if len(arrays) == 1 else arrays


def _assert_all_close(actual, expected, atol):
    actual = actual if isinstance(actual, list) else [actual]
    expected = expected if isinstance(expected, list) else [expected]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=atol, rtol=1e-5)


def central_differences(loss, array, indices=None, eps=1e-5):
    """Central differences `(loss(a + eps) - loss(a - eps)) / 2 eps` of a float64 `loss` at entries of `array`.

    Args:
        loss: a function of an array like `array`, returning a float (a float64 reference).
        array: the point.
        indices: the entries to differentiate (default: every entry).
        eps: the step.

    Returns:
        `{index: derivative}`.
    """
    array = np.asarray(array, "float64")
    derivatives = {}
    for index in np.ndindex(array.shape) if indices is None else indices:
        plus, minus = array.copy(), array.copy()
        plus[index] += eps
        minus[index] -= eps
        derivatives[index] = (loss(plus) - loss(minus)) / (2 * eps)
    return derivatives


def assert_gradient_matches(gradient, loss, array, indices=None, eps=1e-5, rtol=1e-3, atol=1e-4):
    """Asserts that the autodiff `gradient` of a layer equals the central differences of its reference `loss`."""
    for index, expected in central_differences(loss, array, indices, eps).items():
        np.testing.assert_allclose(np.asarray(gradient)[index], expected, rtol=rtol, atol=atol, err_msg=str(index))


def numpy_bigram_bag(token_ids, table):
    """`BigramBag`'s output from its equation: each text's bigrams hashed as `(a * P + b) mod B` in
    Python's exact integers, their rows of `table` averaged (zeros without a bigram)."""
    from lstm_keras.layers.bigram_bag import HASH_PRIME

    buckets = len(table)
    out = np.zeros((len(token_ids), table.shape[1]), "float64")
    for row, ids in enumerate(token_ids):
        ids = [int(i) for i in ids if i != 0]
        pairs = list(zip(ids, ids[1:]))
        if pairs:
            out[row] = np.mean([table[(a * HASH_PRIME + b) % buckets] for a, b in pairs], axis=0)
    return out
