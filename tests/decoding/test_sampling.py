"""Random samplers (random, top-k, top-p) against NumPy references, through the shared `Sampler` loop."""

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras import decoding
from lstm_keras.decoding import GreedySampler
from lstm_keras.decoding import RandomSampler
from lstm_keras.decoding import TopKSampler
from lstm_keras.decoding import TopPSampler

END = 1


def markov_next(log_table):
    """A step function whose logits depend only on the previous token (rows of `log_table`)."""
    table = np.asarray(log_table, "float32")

    def next(token, state):
        return ops.take(table, token, axis=0), state, None

    return next


def random_logits(seed, rows, vocabulary_size):
    return np.random.default_rng(seed).normal(scale=2.0, size=(rows, vocabulary_size)).astype("float32")


def draw(sampler, logits, repeats):
    """`repeats` draws per row of `logits` (rows tiled), as `(repeats, rows)`."""
    tiled = np.tile(logits, (repeats, 1))  # (repeats * rows, V)
    tokens = sampler.get_next_token(sampler.compute_probabilities(tiled))
    return ops.convert_to_numpy(tokens).reshape(repeats, len(logits))


def numpy_nucleus(probabilities, p):
    """The kept set of nucleus sampling: the shortest prefix of the sorted tokens whose total reaches p."""
    order = np.argsort(-probabilities, kind="stable")
    total = np.cumsum(probabilities[order])
    n = int(np.searchsorted(total, p) + 1)  # the first prefix with total >= p
    return set(order[:n].tolist())


def softmax(x):
    x = np.asarray(x, "float64")
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_top_k_never_samples_outside_the_k_best():
    logits = random_logits(0, rows=5, vocabulary_size=30)
    sampler = TopKSampler(k=4, seed=1)
    tokens = draw(sampler, logits, repeats=800)  # 4000 draws
    for row in range(len(logits)):
        best = set(np.argsort(-logits[row])[:4].tolist())
        drawn = set(tokens[:, row].tolist())
        assert drawn <= best
        assert drawn == best  # 800 draws per row reach every kept token
    # The kept probabilities are the renormalised softmax of the k best.
    probabilities = ops.convert_to_numpy(sampler.compute_probabilities(logits))
    for row in range(len(logits)):
        keep = np.argsort(-logits[row])[:4]
        reference = np.zeros(30)
        reference[keep] = softmax(logits[row])[keep] / softmax(logits[row])[keep].sum()
        np.testing.assert_allclose(probabilities[row], reference, atol=1e-6)


def test_top_k_through_the_sampler_loop():
    rng = np.random.default_rng(2)
    table = rng.normal(size=(12, 12)).astype("float32")
    tokens, _ = TopKSampler(k=3, seed=5)(markov_next(table), np.zeros((300,), "int32"), {}, max_length=6)
    tokens = ops.convert_to_numpy(tokens)
    previous = np.concatenate([np.zeros((300, 1), int), tokens[:, :-1]], axis=1)
    best = np.argsort(-table, axis=1)[:, :3]  # (12, 3)
    assert all(tokens[i, t] in best[previous[i, t]] for i in range(300) for t in range(6))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.75, 0.9, 0.99])
def test_top_p_kept_set_matches_numpy(p):
    logits = random_logits(3, rows=8, vocabulary_size=50)
    probabilities = ops.convert_to_numpy(TopPSampler(p=p).compute_probabilities(logits))
    reference = softmax(logits)
    for row in range(len(logits)):
        kept = numpy_nucleus(reference[row], p)
        assert set(np.flatnonzero(probabilities[row]).tolist()) == kept
        expected = np.zeros(50)
        expected[list(kept)] = reference[row, list(kept)] / reference[row, list(kept)].sum()
        np.testing.assert_allclose(probabilities[row], expected, atol=1e-6)


def test_top_p_draws_stay_in_the_nucleus_and_p_one_keeps_everything():
    logits = random_logits(4, rows=3, vocabulary_size=20)
    tokens = draw(TopPSampler(p=0.6, seed=0), logits, repeats=500)
    for row in range(3):
        assert set(tokens[:, row].tolist()) <= numpy_nucleus(softmax(logits[row]), 0.6)
    full = ops.convert_to_numpy(TopPSampler(p=1.0).compute_probabilities(logits))
    np.testing.assert_allclose(full, softmax(logits), atol=1e-6)


def test_random_sampler_follows_the_softmax():
    logits = random_logits(5, rows=2, vocabulary_size=6)
    tokens = draw(RandomSampler(seed=3), logits, repeats=6000)
    for row in range(2):
        frequencies = np.bincount(tokens[:, row], minlength=6) / 6000
        np.testing.assert_allclose(frequencies, softmax(logits[row]), atol=0.025)


def test_inverse_transform_draws_at_the_edges_of_the_unit_interval():
    # Zero-probability tokens first and last (as after top-k); u = 0 and the largest float32 below 1.
    probabilities = np.array([[0.0, 0.2, 0.0, 0.5, 0.3, 0.0, 0.0]] * 2, "float32")
    noise = np.array([0.0, np.nextafter(np.float32(1), np.float32(0))], "float32")
    tokens = ops.convert_to_numpy(RandomSampler().get_next_token(probabilities, noise))
    assert tokens.tolist() == [1, 4]  # the first and the last token of positive probability
    # A total short of 1 (rounding; here 0.6): u close to 1 still lands on a token of positive probability.
    short = np.array([[0.3, 0.3, 0.0]], "float32")
    assert ops.convert_to_numpy(RandomSampler().get_next_token(short, noise[1:])).tolist() == [1]


def test_low_temperature_approaches_greedy():
    rng = np.random.default_rng(6)
    table = rng.normal(size=(10, 10)).astype("float32")
    start = np.arange(10, dtype="int32").repeat(20)  # (200,)
    greedy, _ = GreedySampler()(markov_next(table), start, {}, max_length=5)
    matches = []
    for temperature in (2.0, 0.5, 0.01):
        sampled, _ = RandomSampler(temperature=temperature, seed=7)(markov_next(table), start, {}, max_length=5)
        matches.append(np.mean(ops.convert_to_numpy(sampled) == ops.convert_to_numpy(greedy)))
    assert matches[0] < matches[1] < matches[2]
    assert matches[2] == 1.0


def test_seeded_draws_are_repeatable():
    table = np.log(np.full((5, 5), 0.2, "float32"))  # uniform: every draw is a coin toss
    start = np.zeros((64,), "int32")
    first, _ = RandomSampler(seed=11)(markov_next(table), start, {}, max_length=8)
    again, _ = RandomSampler(seed=11)(markov_next(table), start, {}, max_length=8)
    other, _ = RandomSampler(seed=12)(markov_next(table), start, {}, max_length=8)
    np.testing.assert_array_equal(ops.convert_to_numpy(first), ops.convert_to_numpy(again))
    assert not np.array_equal(ops.convert_to_numpy(first), ops.convert_to_numpy(other))
    # One sampler moves on: its next call draws new tokens.
    sampler = TopKSampler(k=3, seed=11)
    one, _ = sampler(markov_next(table), start, {}, max_length=8)
    two, _ = sampler(markov_next(table), start, {}, max_length=8)
    assert not np.array_equal(ops.convert_to_numpy(one), ops.convert_to_numpy(two))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a tf.function graph")
def test_seeded_draws_are_repeatable_in_a_compiled_graph():
    import tensorflow as tf

    table = np.log(np.full((5, 5), 0.2, "float32"))
    start = tf.zeros((16,), tf.int32)

    def run(seed):
        sampler = TopPSampler(p=0.8, seed=seed)
        return tf.function(lambda s: sampler(markov_next(table), s, {}, 6, end_token_id=END)[0])(start).numpy()

    np.testing.assert_array_equal(run(3), run(3))
    assert run(3).shape == (16, 6)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: TopKSampler(k=0), "`k`"),
        (lambda: TopKSampler(k=2.5), "`k`"),
        (lambda: TopPSampler(p=0.0), "`p`"),
        (lambda: TopPSampler(p=1.5), "`p`"),
        (lambda: TopPSampler(p=-0.1), "`p`"),
        (lambda: RandomSampler(temperature=0), "`temperature`"),
        (lambda: RandomSampler(temperature=-1.0), "`temperature`"),
        (lambda: RandomSampler(seed="x"), "`seed`"),
    ],
)
def test_bad_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_get_and_serialization():
    assert isinstance(decoding.get("random"), RandomSampler)
    assert decoding.get("top_k", k=3, seed=1).k == 3
    sampler = decoding.get(decoding.serialize(TopPSampler(p=0.5, seed=3, temperature=0.7)))
    assert (type(sampler), sampler.p, sampler.seed, sampler.temperature) == (TopPSampler, 0.5, 3, 0.7)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(TopKSampler(k=7)))
    assert restored.k == 7
