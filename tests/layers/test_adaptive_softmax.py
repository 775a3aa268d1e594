"""`AdaptiveSoftmax`: the layer checks, a NumPy reference of its equations, its loss paths and their gradients."""

import doctest

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras.layers import AdaptiveSoftmax
from lstm_keras.layers import adaptive_softmax
from lstm_keras.layers import check_cutoffs
from lstm_keras.layers import default_cutoffs
from lstm_keras.layers.masking import MASKED_VALUE

V, CUTOFFS, D = 50, [10, 30], 8
TENSORFLOW = keras.backend.backend() == "tensorflow"
# The loss paths each backend runs: TensorFlow gathers a cluster's rows (and can run the dense path), JAX is dense.
PATHS = [True, False] if TENSORFLOW else [False]


def make_layer(tie_weights=False, excluded_ids=(), cutoffs=CUTOFFS, seed=0):
    """A built layer with random weights (biases included), so that every term of the equations matters."""
    layer = AdaptiveSoftmax(V, cutoffs=cutoffs, tie_weights=tie_weights, excluded_ids=excluded_ids)
    layer.build((None, D))
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.7, size=weight.shape).astype("float32"))
    return layer


def random_inputs(shape=(2, 3), seed=1):
    rng = np.random.default_rng(seed)
    hidden = rng.normal(size=shape + (D,)).astype("float32")
    embeddings = rng.normal(scale=0.5, size=(V, D)).astype("float32")
    return hidden, embeddings


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def reference_log_probs(layer, hidden, embeddings=None, weights=None):
    """log p(w | h) of every word in float64, from the equations of the docstring, word by word."""
    weights = weights or {w.name: np.asarray(w, "float64") for w in layer.weights}
    h = np.asarray(hidden, "float64")
    c_1, clusters = layer.cutoffs[0], layer.clusters
    head_words = embeddings[:c_1].astype("float64").T if layer.tie_weights else weights["head_kernel"]
    head = h @ np.concatenate([head_words, weights["cluster_kernel"]], axis=1) + weights["head_bias"]
    head[..., layer.excluded_ids] += MASKED_VALUE
    head = log_softmax(head)  # (..., c_1 + n)
    tails = []  # log p(word | cluster i), (..., V_i)
    for i, (start, end) in enumerate(clusters, start=1):
        if layer.tie_weights:
            kernel = (embeddings[start:end].astype("float64") @ weights[f"tail_{i}_embedding_projection"]).T
        else:
            kernel = weights[f"tail_{i}_kernel"]
        tails.append(log_softmax(h @ weights[f"tail_{i}_projection"] @ kernel + weights[f"tail_{i}_bias"]))
    log_probs = np.empty(h.shape[:-1] + (layer.vocabulary_size,))
    for word in range(layer.vocabulary_size):
        if word < c_1:
            log_probs[..., word] = head[..., word]
            continue
        i = sum(word >= start for start, _ in clusters)  # the word's cluster, 1..n
        start = clusters[i - 1][0]
        log_probs[..., word] = head[..., c_1 + i - 1] + tails[i - 1][..., word - start]
    return log_probs


def reference_mean_nll(layer, hidden, targets, embeddings=None, weights=None):
    log_probs = reference_log_probs(layer, hidden, embeddings, weights)
    return -np.take_along_axis(log_probs, targets[..., None], axis=-1).mean()


def nll_and_gradients(layer, hidden, targets, embeddings, gather):
    """mean(nll) and its gradients w.r.t. the hidden vectors, tail_1's word kernel and (tied) the embeddings."""
    tail = layer.tail_kernels[0]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        hidden = tf.constant(hidden)
        embeddings = None if embeddings is None else tf.constant(embeddings)
        with tf.GradientTape() as tape:
            tape.watch(hidden)
            if embeddings is not None:
                tape.watch(embeddings)
            loss = ops.mean(layer._nll(hidden, targets, embeddings, gather=gather))
        sources = [hidden, tail] + ([] if embeddings is None else [embeddings])
        return float(loss), [np.asarray(g) for g in tape.gradient(loss, sources)]
    if keras.backend.backend() == "jax":
        import jax

        variables = layer.trainable_variables

        def loss(values, hidden, embeddings):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return ops.mean(layer._nll(hidden, targets, embeddings, gather=gather))

        values = [v.value for v in variables]
        total, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(values, hidden, embeddings)
        tail_index = [v is tail for v in variables].index(True)
        found = [grads[1], grads[0][tail_index]] + ([] if embeddings is None else [grads[2]])
        return float(total), [np.asarray(g) for g in found]
    pytest.skip(f"no autodiff helper for backend {keras.backend.backend()}")


def central_differences(function, array, eps=1e-4):
    """d function / d array, entry by entry, in float64."""
    array = np.array(array, "float64")
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = function(array)
        array[index] = saved - eps
        minus = function(array)
        array[index] = saved
        gradient[index] = (plus - minus) / (2 * eps)
    return gradient


def test_adaptive_softmax_layer(tmp_path):
    from layer_checks import check_layer

    hidden, embeddings = random_inputs()
    log_probs = check_layer(lambda: AdaptiveSoftmax(V, CUTOFFS, excluded_ids=[0, 1]), [hidden], tmp_dir=str(tmp_path))
    assert log_probs.shape == (2, 3, V) and log_probs.dtype == np.float32
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)
    # Tied: the embeddings are the second input (not batched with the hidden vectors, so no training step).
    tied = check_layer(lambda: AdaptiveSoftmax(V, CUTOFFS, tie_weights=True), [hidden, embeddings],
                       tmp_dir=str(tmp_path), train=False)
    np.testing.assert_allclose(np.exp(tied).sum(-1), 1.0, atol=1e-5)


def test_weights_and_projection_sizes():
    untied, tied = make_layer(), make_layer(tie_weights=True)
    assert untied.projection_sizes == [2, 1]  # round(8 / 4), max(1, round(8 / 16))
    assert {w.name: tuple(w.shape) for w in untied.weights} == {
        "head_kernel": (D, 10), "cluster_kernel": (D, 2), "head_bias": (12,),
        "tail_1_projection": (D, 2), "tail_1_kernel": (2, 20), "tail_1_bias": (20,),
        "tail_2_projection": (D, 1), "tail_2_kernel": (1, 20), "tail_2_bias": (20,),
    }
    assert {w.name: tuple(w.shape) for w in tied.weights} == {
        "cluster_kernel": (D, 2), "head_bias": (12,),
        "tail_1_projection": (D, 2), "tail_1_embedding_projection": (D, 2), "tail_1_bias": (20,),
        "tail_2_projection": (D, 1), "tail_2_embedding_projection": (D, 1), "tail_2_bias": (20,),
    }
    assert AdaptiveSoftmax(V, CUTOFFS, div_value=1)(np.zeros((1, D), "float32")).shape == (1, V)


@pytest.mark.parametrize("tie_weights", [False, True])
@pytest.mark.parametrize("excluded_ids", [[], [0, 1]])
def test_full_distribution_sums_to_one_and_matches_the_reference(tie_weights, excluded_ids):
    layer = make_layer(tie_weights, excluded_ids)
    hidden, embeddings = random_inputs()
    embeddings = embeddings if tie_weights else None
    log_probs = ops.convert_to_numpy(layer.log_prob(hidden, embeddings=embeddings))
    assert log_probs.shape == (2, 3, V) and log_probs.dtype == np.float32
    probabilities = np.exp(log_probs.astype("float64"))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    assert (probabilities[..., excluded_ids] == 0).all()
    assert (probabilities[..., 2:] > 0).all()
    reference = reference_log_probs(layer, hidden, embeddings)
    kept = [w for w in range(V) if w not in excluded_ids]
    np.testing.assert_allclose(log_probs[..., kept], reference[..., kept], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(log_probs[..., excluded_ids], MASKED_VALUE, rtol=1e-6)


def test_a_one_word_cluster_gives_the_full_softmax():
    """cutoffs=[V - 1]: the last word is a cluster of its own (log p(w | cluster) = 0), so the layer is a
    full softmax over V words, `log_softmax(h [W_head, K] + b)`."""
    layer = make_layer(cutoffs=[V - 1])
    hidden, _ = random_inputs()
    weights = {w.name: np.asarray(w, "float64") for w in layer.weights}
    logits = hidden @ np.concatenate([weights["head_kernel"], weights["cluster_kernel"]], axis=1) + weights["head_bias"]
    assert logits.shape == (2, 3, V)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(hidden)), log_softmax(logits), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("gather", PATHS)
@pytest.mark.parametrize("tie_weights", [False, True])
@pytest.mark.parametrize("shape", [(3, 7), (17,)])
def test_nll_is_minus_log_prob_at_the_targets(gather, tie_weights, shape):
    layer = make_layer(tie_weights, excluded_ids=[0])
    hidden, embeddings = random_inputs(shape)
    embeddings = embeddings if tie_weights else None
    targets = np.random.default_rng(2).integers(0, V, size=shape)
    targets.flat[:4] = [0, 9, 10, V - 1]  # an excluded id (padding), the edges of the clusters
    nll = ops.convert_to_numpy(layer._nll(hidden, targets, embeddings, gather=gather))
    assert nll.shape == shape and nll.dtype == np.float32
    log_probs = ops.convert_to_numpy(layer.log_prob(hidden, embeddings=embeddings))
    expected = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(nll, expected, atol=1e-5, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.nll(hidden, targets, embeddings)), nll, atol=1e-5)


def test_nll_with_no_target_in_a_cluster():
    layer = make_layer()
    hidden, _ = random_inputs((5,))
    targets = np.array([1, 2, 3, 4, 5])  # head words only: both tails gather no row
    for gather in PATHS:
        nll = ops.convert_to_numpy(layer._nll(hidden, targets, None, gather=gather))
        expected = -np.take_along_axis(reference_log_probs(layer, hidden), targets[:, None], axis=-1)[:, 0]
        np.testing.assert_allclose(nll, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("gather", PATHS)
@pytest.mark.parametrize("tie_weights", [False, True])
def test_nll_gradients_against_finite_differences(gather, tie_weights):
    layer = make_layer(tie_weights)
    hidden, embeddings = random_inputs((2, 4))
    embeddings = embeddings if tie_weights else None
    targets = np.array([[3, 12, 29, 31], [49, 10, 5, 20]])  # head, both clusters
    loss, gradients = nll_and_gradients(layer, hidden, targets, embeddings, gather)
    weights = {w.name: np.asarray(w, "float64") for w in layer.weights}
    np.testing.assert_allclose(loss, reference_mean_nll(layer, hidden, targets, embeddings), rtol=1e-5)

    expected = [central_differences(lambda h: reference_mean_nll(layer, h, targets, embeddings), hidden)]
    tail = layer.tail_kernels[0].name

    def with_tail(value):
        return reference_mean_nll(layer, hidden, targets, embeddings, {**weights, tail: value})

    expected.append(central_differences(with_tail, weights[tail]))
    if tie_weights:
        expected.append(central_differences(lambda e: reference_mean_nll(layer, hidden, targets, e), embeddings))
    assert len(gradients) == len(expected)
    for gradient, reference in zip(gradients, expected):
        assert gradient.shape == reference.shape and np.abs(reference).max() > 1e-3
        np.testing.assert_allclose(gradient, reference, atol=2e-5, rtol=1e-3)


def test_nll_compiles():
    layer = make_layer(excluded_ids=[0])
    hidden, _ = random_inputs((4, 6))
    targets = np.random.default_rng(3).integers(0, V, size=(4, 6))
    expected = ops.convert_to_numpy(layer._nll(hidden, targets, None, gather=False))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Unknown batch and time sizes: the gathered row counts are dynamic.
        spec = [tf.TensorSpec((None, None, D), "float32"), tf.TensorSpec((None, None), "int64")]
        compiled = tf.function(layer.nll, input_signature=spec, jit_compile=False)
        xla = tf.function(layer.nll, jit_compile=True)
        for function in (compiled, xla):
            np.testing.assert_allclose(np.asarray(function(hidden, targets)), expected, atol=1e-5, rtol=1e-5)
        assert adaptive_softmax._in_xla_context() is False
        assert bool(tf.function(adaptive_softmax._in_xla_context, jit_compile=True)())
    elif keras.backend.backend() == "jax":
        import jax

        variables = layer.variables

        def nll(values, hidden, targets):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return layer.nll(hidden, targets)

        result = jax.jit(nll)([v.value for v in variables], hidden, targets)
        np.testing.assert_allclose(np.asarray(result), expected, atol=1e-5, rtol=1e-5)
    else:
        pytest.skip(f"no compiled check for backend {keras.backend.backend()}")


def test_builds_on_first_nll_and_mixed_precision_gives_float32():
    hidden, _ = random_inputs()
    layer = AdaptiveSoftmax(V, CUTOFFS)
    assert ops.convert_to_numpy(layer.nll(hidden, np.ones((2, 3), "int32"))).shape == (2, 3) and layer.built
    mixed = AdaptiveSoftmax(V, CUTOFFS, dtype="mixed_float16")
    log_probs = ops.convert_to_numpy(mixed(hidden))
    assert log_probs.dtype == np.float32
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)
    assert ops.convert_to_numpy(mixed.nll(hidden, np.ones((2, 3), "int32"))).dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cutoffs": [30, 10]}, r"`cutoffs`.*strictly increasing.*Received: cutoffs=\[30, 10\]"),
        ({"cutoffs": [10, 10]}, r"`cutoffs`.*Received: cutoffs=\[10, 10\]"),
        ({"cutoffs": [10, V]}, r"`cutoffs`.*< vocabulary_size \(50\).*Received: cutoffs=\[10, 50\]"),
        ({"cutoffs": [0, 10]}, r"`cutoffs`.*> 0"),
        ({"cutoffs": []}, r"`cutoffs`.*non-empty.*Received: cutoffs=\[\]"),
        ({"cutoffs": [1.5, 10]}, r"`cutoffs`.*ints"),
        ({"cutoffs": 10}, r"`cutoffs`.*Received: cutoffs=10"),
        ({"excluded_ids": [10]}, r"`excluded_ids`.*\[0, 10\).*Received: excluded_ids=\[10\]"),
        ({"excluded_ids": [-1]}, r"`excluded_ids`"),
        ({"div_value": 0.5}, r"`div_value`.*>= 1.*Received: div_value=0.5"),
        ({"vocabulary_size": 2500, "cutoffs": None}, r"`vocabulary_size`.*2500 words is too small.*full softmax"),
        ({"vocabulary_size": 0}, r"`vocabulary_size`.*Received: vocabulary_size=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"vocabulary_size": V, "cutoffs": CUTOFFS, **kwargs}
    with pytest.raises(ValueError, match=match):
        AdaptiveSoftmax(**kwargs)


def test_bad_embeddings():
    hidden, embeddings = random_inputs()
    with pytest.raises(ValueError, match="needs the `embeddings`"):
        make_layer(tie_weights=True)(hidden)
    with pytest.raises(ValueError, match="only with tie_weights=True"):
        make_layer()(hidden, embeddings=embeddings)
    with pytest.raises(ValueError, match=r"shape \(vocabulary_size, hidden size\)"):
        make_layer(tie_weights=True).nll(hidden, np.zeros((2, 3), "int32"), embeddings[:, :4])


def test_default_cutoffs():
    assert default_cutoffs(10000) == [2000]
    assert default_cutoffs(33278) == [2000, 10000]
    assert default_cutoffs(100000) == [2000, 10000, 50000]
    # The last cluster would hold 2000 words, fewer than half of the 8000 before it: it joins them.
    assert default_cutoffs(12000) == [2000]
    assert default_cutoffs(3000) == [2000]
    for size in (3000, 10000, 12000, 33278, 100000, 10**6):
        cutoffs = default_cutoffs(size)
        assert check_cutoffs(cutoffs, size) == cutoffs
    assert AdaptiveSoftmax(33278).cutoffs == [2000, 10000]
    with pytest.raises(ValueError, match="`vocabulary_size`.*too small"):
        default_cutoffs(2999)
    with pytest.raises(ValueError, match="`vocabulary_size`.*too small"):
        default_cutoffs(1000)


def test_docstring_example():
    results = doctest.testmod(adaptive_softmax, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
