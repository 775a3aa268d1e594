"""Decoding strategies: greedy, beam search, `get`, checked against brute-force NumPy references."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras import decoding
from lstm_keras.decoding import BeamSampler
from lstm_keras.decoding import GreedySampler
from lstm_keras.decoding import gnmt_coverage_penalty
from lstm_keras.decoding import gnmt_length_penalty

PAD, END = 0, 1


def markov_next(log_table):
    """A step function whose logits depend only on the previous token (rows of `log_table`)."""
    table = np.asarray(log_table, "float32")

    def next(token, state):
        return ops.take(table, token, axis=0), state, None

    return next


def random_markov_table(rng, vocabulary_size):
    probabilities = rng.dirichlet(np.ones(vocabulary_size) * 0.7, size=vocabulary_size)
    probabilities[:, PAD] = 1e-12  # padding is never a real token
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return np.log(probabilities)


def rnn_next(seed, vocabulary_size=7, units=5, source_length=4):
    """A tiny random recurrent step function with a state and attention-like outputs."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(vocabulary_size, units)).astype("float32")
    recurrent = rng.normal(size=(units, units)).astype("float32")
    output = (2 * rng.normal(size=(units, vocabulary_size))).astype("float32")
    scores = rng.normal(size=(units, source_length)).astype("float32")

    def next(token, state):
        h = ops.tanh(ops.matmul(state["h"], recurrent) + ops.take(embeddings, token, axis=0))  # (batch, units)
        logits = ops.matmul(h, output)  # (batch, V)
        attention = ops.softmax(ops.matmul(h, scores) + state["bias"], axis=-1)  # (batch, Tv)
        return logits, {"h": h, "bias": state["bias"]}, attention

    return next


def brute_force_best(log_table, start, max_length, alpha):
    """The sequence with the best GNMT-normalised score, by enumerating every sequence."""
    vocabulary_size = log_table.shape[1]
    best, best_score = None, -np.inf
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(1, vocabulary_size), repeat=length):
            if END in sequence[:-1] or (length < max_length and sequence[-1] != END):
                continue  # a hypothesis ends at its first [END] or at max_length
            previous = (start,) + sequence[:-1]
            log_prob = sum(log_table[p, t] for p, t in zip(previous, sequence))
            score = log_prob / ((5 + length) / 6) ** alpha
            if score > best_score:
                best, best_score = list(sequence), score
    return best + [PAD] * (max_length - len(best)), best_score


def to_numpy(x):
    return ops.convert_to_numpy(x)


def test_length_penalty_matches_numpy():
    lengths = np.arange(1, 40)
    for alpha in (0.0, 0.2, 0.6, 1.0, 1.5):
        expected = ((5.0 + lengths) / 6.0) ** alpha
        np.testing.assert_allclose(to_numpy(gnmt_length_penalty(lengths, alpha)), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_of_one_is_greedy(seed):
    next = rnn_next(seed)
    batch = 6
    state = {"h": np.zeros((batch, 5), "float32"), "bias": np.random.default_rng(seed).normal(size=(batch, 4)).astype("float32")}
    start = np.full((batch,), 2, "int32")
    limits = np.array([1, 3, 5, 8, 8, 8], "int32")
    greedy_tokens, greedy_attention = GreedySampler()(next, start, state, limits, end_token_id=END)
    beam_tokens, beam_attention = BeamSampler(num_beams=1, length_penalty=0.6)(
        next, start, state, limits, end_token_id=END
    )
    np.testing.assert_array_equal(to_numpy(beam_tokens), to_numpy(greedy_tokens))
    np.testing.assert_allclose(to_numpy(beam_attention), to_numpy(greedy_attention), atol=1e-6)


def test_beam_finds_the_best_sequence_that_greedy_misses():
    # Vocabulary [PAD, END, A, B]; the start token is A.
    # From the start, "A" (0.6) beats "B" (0.4); after A everything is flat (END 0.3, A 0.36,
    # B 0.34) while after B the END is almost sure (0.9). Best: "B END" with P = 0.36.
    probabilities = np.array([
        [1e-9, 0.5, 0.25, 0.25],
        [1e-9, 1.0, 1e-9, 1e-9],
        [1e-9, 0.3, 0.36, 0.34],
        [1e-9, 0.9, 0.05, 0.05],
    ])
    first = np.array([1e-9, 1e-9, 0.6, 0.4])
    probabilities = np.vstack([probabilities, first])  # row 4: the start token
    log_table = np.log(probabilities / probabilities.sum(1, keepdims=True))
    next = markov_next(log_table)
    start = np.array([4], "int32")
    greedy, _ = GreedySampler()(next, start, {}, 3, end_token_id=END)
    assert to_numpy(greedy).tolist() == [[2, 2, 2]]  # P = 0.6 * 0.36 * 0.36 = 0.078
    beam, _ = BeamSampler(num_beams=2, length_penalty=0.0)(next, start, {}, 3, end_token_id=END)
    assert to_numpy(beam).tolist() == [[3, END, PAD]]
    expected, _ = brute_force_best(log_table, 4, 3, 0.0)
    assert expected == [3, END, PAD]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_wide_beam_equals_exhaustive_search(alpha):
    # With k at least the number of live prefixes, beam search is exhaustive: it must find the
    # best normalised sequence of a brute-force enumeration, for every start token of the batch.
    rng = np.random.default_rng(3)
    vocabulary_size, max_length = 5, 4
    log_table = random_markov_table(rng, vocabulary_size)
    start = np.arange(2, vocabulary_size, dtype="int32")
    sampler = BeamSampler(num_beams=(vocabulary_size - 1) ** (max_length - 1), length_penalty=alpha, stopping="bound")
    tokens, _ = sampler(markov_next(log_table), start, {}, max_length, end_token_id=END)
    for row, s in zip(to_numpy(tokens), start):
        expected, _ = brute_force_best(log_table, s, max_length, alpha)
        assert row.tolist() == expected


def gnmt_score(log_table, start, sequence, alpha):
    """The normalised score of a finished `sequence` (up to its first [END] or its last token)."""
    length = next(i + 1 for i, t in enumerate(sequence) if t == END or i == len(sequence) - 1)
    previous = [start] + list(sequence[: length - 1])
    return sum(log_table[p, t] for p, t in zip(previous, sequence[:length])) / ((5 + length) / 6) ** alpha


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts the steps of an eagerly run loop")
def test_stopping_at_the_current_length_takes_fewer_steps_and_never_scores_better():
    probabilities = np.exp(random_markov_table(np.random.default_rng(5), 6))
    probabilities[:, END] *= 10  # hypotheses end early: the finished pools fill in a few steps
    log_table = np.log(probabilities / probabilities.sum(axis=1, keepdims=True))
    start = np.arange(2, 6, dtype="int32")
    results = {}
    for stopping in ("bound", "current"):
        steps = []

        def counted(token, state, base=markov_next(log_table)):
            steps.append(1)
            return base(token, state)

        tokens, _ = BeamSampler(num_beams=2, length_penalty=1.0, stopping=stopping)(
            counted, start, {}, 20, end_token_id=END)
        scores = [gnmt_score(log_table, s, row, 1.0) for row, s in zip(to_numpy(tokens), start)]
        results[stopping] = (scores, len(steps))
    (bound_scores, bound_steps), (current_scores, current_steps) = results["bound"], results["current"]
    assert current_steps < bound_steps
    assert all(c <= b + 1e-5 for c, b in zip(current_scores, bound_scores))
    assert current_scores != bound_scores  # here one sequence pays for the early stop (-1.45 against -1.42)
    with pytest.raises(ValueError, match="stopping"):
        BeamSampler(stopping="never")


def test_all_beams_are_sorted_and_scored_like_numpy():
    rng = np.random.default_rng(4)
    log_table = random_markov_table(rng, 5)
    sampler = BeamSampler(num_beams=3, length_penalty=0.6, return_all_beams=True)
    tokens, attention = sampler(markov_next(log_table), np.array([2, 3], "int32"), {}, 6, end_token_id=END)
    assert to_numpy(tokens).shape == (2, 3, 6) and attention is None
    for sequences, start in zip(to_numpy(tokens), (2, 3)):
        scores = []
        for sequence in sequences:
            scores.append(gnmt_score(log_table, start, sequence, 0.6))
            length = next(i + 1 for i, t in enumerate(sequence) if t == END or i == len(sequence) - 1)
            assert (sequence[length:] == PAD).all()
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(s) for s in sequences}) == 3


@pytest.mark.parametrize("sampler", [GreedySampler(), BeamSampler(num_beams=3)], ids=["greedy", "beam"])
def test_end_token_handling(sampler):
    # Token 1 is END; after token 2 the END is certain, after token 3 never.
    log_table = np.log(np.array([
        [1e-9, 1e-9, 0.7, 0.3],  # start (PAD id used as start here)
        [1e-9, 1.0, 1e-9, 1e-9],
        [1e-9, 1.0, 1e-9, 1e-9],
        [1e-9, 1e-9, 1e-9, 1.0],
    ]))
    next = markov_next(log_table)
    tokens, _ = sampler(next, np.array([0, 3, 2], "int32"), {}, np.array([5, 4, 1]), end_token_id=END)
    tokens = to_numpy(tokens)
    assert tokens.shape == (3, 5)
    assert tokens[0].tolist() == [2, END, PAD, PAD, PAD]  # ends, then padding
    assert tokens[1].tolist() == [3, 3, 3, 3, PAD]  # never ends: cut at its own max_length
    assert tokens[2].tolist() == [END, PAD, PAD, PAD, PAD]  # ends at once
    # Without an end token every sequence runs to its max_length.
    tokens, _ = sampler(next, np.array([2], "int32"), {}, 3, end_token_id=None)
    assert to_numpy(tokens).tolist() == [[END, END, END]]


def test_attention_is_recorded_and_zero_after_the_end():
    next = rnn_next(5, vocabulary_size=4)
    batch = 8
    state = {"h": np.zeros((batch, 5), "float32"), "bias": np.zeros((batch, 4), "float32")}
    for sampler in (GreedySampler(), BeamSampler(num_beams=2)):
        tokens, attention = sampler(next, np.full((batch,), 2, "int32"), state, 6, end_token_id=END)
        tokens, attention = to_numpy(tokens), to_numpy(attention)
        assert attention.shape == (batch, 6, 4)
        generated = np.cumsum(np.cumsum(tokens == END, axis=1), axis=1) <= 1  # up to the first END
        np.testing.assert_allclose(attention.sum(-1), generated.astype("float32"), atol=1e-5)


def test_compiled_loop_matches_eager():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function")
    next = rnn_next(6)
    batch = 3
    state = {"h": np.zeros((batch, 5), "float32"), "bias": np.zeros((batch, 4), "float32")}
    start = np.full((batch,), 2, "int32")
    for sampler in (GreedySampler(), BeamSampler(num_beams=4)):
        eager = sampler(next, start, state, 7, end_token_id=END)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)])
        def compiled(start, limits):
            return sampler(next, start, {"h": tf.zeros((tf.shape(start)[0], 5)), "bias": tf.zeros((tf.shape(start)[0], 4))},
                           limits, end_token_id=END)

        graph = compiled(tf.constant(start), tf.fill([batch], 7))
        np.testing.assert_array_equal(to_numpy(graph[0]), to_numpy(eager[0]))
        np.testing.assert_allclose(to_numpy(graph[1]), to_numpy(eager[1]), atol=1e-6)
        empty = compiled(tf.zeros([0], tf.int32), tf.zeros([0], tf.int32))
        assert tuple(empty[0].shape)[0] == 0


def test_beam_reorders_only_the_state_that_changes(monkeypatch):
    from lstm_keras.decoding import beam

    reordered = []
    original = beam._reorder
    monkeypatch.setattr(beam, "_reorder", lambda x, parent, k: reordered.append(x.shape) or original(x, parent, k))
    state = {"h": np.zeros((2, 5), "float32"), "bias": np.arange(8, dtype="float32").reshape(2, 4)}
    BeamSampler(num_beams=3)(rnn_next(7), np.full((2,), 2, "int32"), state, 6, end_token_id=END)
    # `rnn_next` returns "bias" as it received it: only "h" (batch * k, units) is reordered.
    assert reordered and set(tuple(shape) for shape in reordered) == {(6, 5)}


@pytest.mark.parametrize("sampler", [GreedySampler(), BeamSampler(num_beams=3)], ids=["greedy", "beam"])
def test_length_bound_fixes_the_output_width(sampler):
    next = rnn_next(8)
    state = {"h": np.zeros((3, 5), "float32"), "bias": np.zeros((3, 4), "float32")}
    start = np.full((3,), 2, "int32")
    limits = np.array([2, 5, 3], "int32")
    tokens, attention = map(to_numpy, sampler(next, start, state, limits, end_token_id=END))
    bounded_tokens, bounded_attention = map(
        to_numpy, sampler(next, start, state, limits, end_token_id=END, length_bound=8)
    )
    assert bounded_tokens.shape == (3, 8) and bounded_attention.shape == (3, 8, 4)
    np.testing.assert_array_equal(bounded_tokens[:, :5], tokens)
    assert np.all(bounded_tokens[:, 5:] == PAD)
    np.testing.assert_allclose(bounded_attention[:, :5], attention, atol=1e-6)
    # A bound below a limit caps it.
    capped, _ = sampler(next, start, state, limits, end_token_id=END, length_bound=2)
    expected, _ = sampler(next, start, state, np.minimum(limits, 2), end_token_id=END)
    np.testing.assert_array_equal(to_numpy(capped), to_numpy(expected))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="length_bound"):
            sampler(next, start, state, limits, end_token_id=END, length_bound=bad)


def attending_markov_next(log_table, attention_table):
    """`markov_next` whose step also returns attention over the source: a row of `attention_table` per previous token."""
    tables = np.asarray(log_table, "float32"), np.asarray(attention_table, "float32")

    def next(token, state):
        return ops.take(tables[0], token, axis=0), state, ops.take(tables[1], token, axis=0)

    return next


def brute_force_best_with_coverage(log_table, attention_table, start, max_length, alpha, beta, mask):
    """The best `log P / lp + beta * cp` by enumeration; `cp` over the `mask`ed source positions, in float64."""
    vocabulary_size = log_table.shape[1]
    best, best_score = None, -np.inf
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(1, vocabulary_size), repeat=length):
            if END in sequence[:-1] or (length < max_length and sequence[-1] != END):
                continue
            previous = (start,) + sequence[:-1]
            log_prob = sum(log_table[p, t] for p, t in zip(previous, sequence))
            coverage = attention_table[list(previous)].astype("float64").sum(axis=0)  # (Tv,)
            penalty = (np.log(np.clip(coverage, 1e-10, 1.0)) * mask).sum()
            score = log_prob / ((5 + length) / 6) ** alpha + beta * penalty
            if score > best_score:
                best, best_score = list(sequence), score
    return best + [PAD] * (max_length - len(best)), best_score


def test_coverage_penalty_matches_numpy():
    rng = np.random.default_rng(11)
    attention = rng.dirichlet(np.ones(5), size=(2, 3, 4)).astype("float32")  # (batch, n, T, Tv)
    attention[:, :, 3] = 0.0  # a hypothesis that ended after three tokens
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    coverage = attention.astype("float64").sum(axis=2)  # (batch, n, Tv)
    expected = (np.log(np.clip(coverage, 1e-10, 1.0)) * mask[:, None, :]).sum(-1)
    np.testing.assert_allclose(to_numpy(gnmt_coverage_penalty(attention, mask)), expected, rtol=1e-5)
    # Full coverage costs nothing; a position never attended to costs log(1e-10).
    full = np.eye(3, dtype="float32")[None]  # (1, T, Tv): each position once
    assert float(to_numpy(gnmt_coverage_penalty(full))[0]) == 0.0
    np.testing.assert_allclose(to_numpy(gnmt_coverage_penalty(full[:, :2]))[0], np.log(1e-10), rtol=1e-5)


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_wide_beam_with_coverage_equals_exhaustive_search(beta):
    # The attention of a step is a row per previous token; position 3 is padding in the second
    # sequence (the mask), though the table gives it weight: counted there, it would change the best.
    rng = np.random.default_rng(1)
    vocabulary_size, max_length, source_length = 5, 4, 4
    log_table = random_markov_table(rng, vocabulary_size)
    attention_table = rng.dirichlet(np.ones(source_length) * 0.3, size=vocabulary_size)
    start = np.array([2, 3, 4], "int32")
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]], bool)
    sampler = BeamSampler(num_beams=(vocabulary_size - 1) ** (max_length - 1), length_penalty=0.6,
                          stopping="bound", coverage_penalty=beta)
    next = attending_markov_next(log_table, attention_table)
    tokens, attention = sampler(next, start, {}, max_length, end_token_id=END, attention_mask=mask)
    assert to_numpy(attention).shape == (3, max_length, source_length)
    chosen = []
    for row, s, m in zip(to_numpy(tokens), start, mask):
        expected, _ = brute_force_best_with_coverage(log_table, attention_table, s, max_length, 0.6, beta, m)
        assert row.tolist() == expected
        chosen.append(expected)
    if beta == 2.0:  # here the penalty, and the mask, change what is best (so the comparisons above can fail)
        assert chosen != [brute_force_best(log_table, s, max_length, 0.6)[0] for s in start]
        unmasked, _ = brute_force_best_with_coverage(log_table, attention_table, 3, max_length, 0.6, beta, 1)
        assert chosen[1] != unmasked


def test_coverage_penalty_favours_the_hypothesis_that_covers_the_source():
    # Two source positions. The first step (from the start) attends to position 0 and picks "A"
    # (0.55) or "B" (0.45); either is followed by a certain END, whose step attends to position 0
    # again after A but to position 1 after B. "A END" is more probable; "B END" covers the source.
    probabilities = np.array([
        [1e-9, 0.5, 0.25, 0.25],
        [1e-9, 1.0, 1e-9, 1e-9],
        [1e-9, 1.0, 1e-9, 1e-9],  # after A: END
        [1e-9, 1.0, 1e-9, 1e-9],  # after B: END
        [1e-9, 1e-9, 0.55, 0.45],  # the start token
    ])
    log_table = np.log(probabilities / probabilities.sum(1, keepdims=True))
    attention_table = np.array([[.5, .5], [.5, .5], [1., 0.], [0., 1.], [1., 0.]], "float32")  # a row per previous token
    next = attending_markov_next(log_table, attention_table)
    start = np.array([4], "int32")
    plain, _ = BeamSampler(num_beams=2, length_penalty=0.0)(next, start, {}, 3, end_token_id=END)
    covered, _ = BeamSampler(num_beams=2, length_penalty=0.0, coverage_penalty=0.2)(
        next, start, {}, 3, end_token_id=END)
    assert to_numpy(plain).tolist() == [[2, END, PAD]]
    assert to_numpy(covered).tolist() == [[3, END, PAD]]


def test_coverage_penalty_needs_attention_and_round_trips():
    sampler = BeamSampler(num_beams=2, coverage_penalty=0.2)
    assert sampler.needs_attention and not BeamSampler(num_beams=2).needs_attention
    assert not GreedySampler().needs_attention
    clone = decoding.get(decoding.serialize(sampler))
    assert clone.coverage_penalty == 0.2 and clone.get_config() == sampler.get_config()
    assert decoding.from_options(beam_size=3, coverage_penalty=0.3).coverage_penalty == 0.3
    log_table = random_markov_table(np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match="coverage penalty needs the attention"):
        sampler(markov_next(log_table), np.array([2], "int32"), {}, 3, end_token_id=END)
    with pytest.raises(ValueError, match="coverage_penalty"):
        BeamSampler(coverage_penalty=-0.1)


def test_get_and_serialization():
    assert isinstance(decoding.get("greedy"), GreedySampler)
    beam = decoding.get("beam", num_beams=3, length_penalty=0.7)
    assert (beam.num_beams, beam.length_penalty) == (3, 0.7)
    assert decoding.get(beam) is beam
    clone = decoding.get(decoding.serialize(beam))
    assert isinstance(clone, BeamSampler) and clone.get_config() == beam.get_config()
    with pytest.raises(ValueError, match="Invalid sampler"):
        decoding.get("nucleus-ish")
    with pytest.raises(ValueError, match="num_beams"):
        BeamSampler(num_beams=0)
    with pytest.raises(ValueError, match="length_penalty"):
        BeamSampler(length_penalty=-1)
    with pytest.raises(ValueError, match="temperature"):
        GreedySampler(temperature=0)


def test_from_options_builds_the_named_sampler():
    assert isinstance(decoding.from_options(beam_size=1), GreedySampler)
    beam = decoding.from_options(beam_size=3, length_penalty=0.2)
    assert isinstance(beam, BeamSampler) and beam.num_beams == 3 and beam.length_penalty == 0.2
    assert isinstance(decoding.from_options(greedy=True), GreedySampler)
    assert decoding.from_options(top_k=4, seed=1).get_config()["k"] == 4
    assert decoding.from_options(top_p=0.5).get_config()["p"] == 0.5
    assert type(decoding.from_options(seed=2)).__name__ == "RandomSampler"
    with pytest.raises(ValueError, match="exclude one another"):
        decoding.from_options(top_k=2, top_p=0.5)


def test_compiled_generate_traces_once_per_sampler_and_key():
    from lstm_keras.decoding.compiled import CompiledGenerate

    calls = []

    def generate(x, sampler):
        calls.append(type(sampler).__name__)  # runs once per trace on TensorFlow, every call elsewhere
        return x * (2 if isinstance(sampler, GreedySampler) else 3)

    compiled = CompiledGenerate([("float32", (None,))])
    x = np.array([1.0, 2.0], "float32")
    assert compiled(generate, decoding.get("greedy"), x).tolist() == [2.0, 4.0]
    assert compiled(generate, decoding.get("greedy"), x).tolist() == [2.0, 4.0]  # same config: reused
    assert compiled(generate, decoding.get("beam"), x).tolist() == [3.0, 6.0]  # another sampler: retraced
    assert compiled(generate, decoding.get("beam"), x, key="other").tolist() == [3.0, 6.0]  # another key
    random = decoding.get("random", seed=1)
    compiled(generate, random, x)
    compiled(generate, random, x)  # the same instance: reused
    compiled(generate, decoding.get("random", seed=1), x)  # a new generator, same config: retraced
    if keras.backend.backend() == "tensorflow":
        assert calls == ["GreedySampler", "BeamSampler", "BeamSampler", "RandomSampler", "RandomSampler"]
    else:
        assert len(calls) == 7
    with pytest.raises(TypeError, match="Sampler"):
        compiled(generate, "greedy", x)


# ---------------------------------------------------------------------- the no-repeat n-gram guard
def banned_by_numpy(tokens, step, n):
    """The tokens that would repeat an n-gram of `tokens[:step]`, by listing the n-grams."""
    seen = tokens[:step]
    grams = {tuple(seen[j:j + n]) for j in range(len(seen) - n + 1)}
    prefix = tuple(seen[len(seen) - n + 1:]) if n > 1 else ()
    return {gram[-1] for gram in grams if gram[:-1] == prefix} if len(seen) >= n - 1 else set()


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_repeated_ngrams_are_banned_like_numpy(n):
    rng = np.random.default_rng(n)
    tokens = rng.integers(2, 5, size=(40, 9)).astype("int32")  # few tokens: many repeats
    for step in range(10):
        logits = ops.convert_to_numpy(decoding.ban_repeated_ngrams(np.zeros((40, 6), "float32"), tokens, step, n))
        for row in range(40):
            assert set(np.flatnonzero(logits[row] < 0)) == banned_by_numpy(list(tokens[row]), step, n), (row, step)


def ngrams(sequence, n):
    return [tuple(sequence[j:j + n]) for j in range(len(sequence) - n + 1)]


GUARDED = [GreedySampler(no_repeat_ngram_size=2), BeamSampler(num_beams=3, no_repeat_ngram_size=3),
           decoding.get("top_k", k=3, seed=1, no_repeat_ngram_size=2)]


@pytest.mark.parametrize("sampler", GUARDED, ids=["greedy-2", "beam-3", "top_k-2"])
def test_guarded_samplers_never_repeat_an_ngram(sampler):
    rng = np.random.default_rng(4)
    for _ in range(5):
        table = random_markov_table(rng, 12)
        table[:, END] = -30.0  # the chain almost never ends: it must loop without the guard
        tokens, _ = sampler(markov_next(table), np.full((4,), 2, "int32"), {}, 20, end_token_id=END)
        for row in to_numpy(tokens).tolist():
            grams = ngrams([t for t in row if t != PAD], sampler.no_repeat_ngram_size)
            assert len(grams) == len(set(grams)), row


def test_the_guard_stops_a_loop_and_keeps_the_sampler_otherwise_unchanged():
    table = np.full((6, 6), -5.0, "float32")  # 2 -> 3 -> 2 -> ... unless 2 -> 4 -> [END]
    table[0, 2] = table[2, 3] = table[3, 2] = 0.0
    table[2, 4], table[4, END] = -1.0, -1.0
    start = np.zeros((1,), "int32")
    looping, _ = GreedySampler()(markov_next(table), start, {}, 10, end_token_id=END)
    assert to_numpy(looping)[0].tolist() == [2, 3] * 5
    guarded, _ = GreedySampler(no_repeat_ngram_size=2)(markov_next(table), start, {}, 10, end_token_id=END)
    assert to_numpy(guarded)[0].tolist() == [2, 3, 2, 4, END] + [PAD] * 5
    # Where no n-gram repeats, the guard changes nothing.
    plain, _ = BeamSampler(num_beams=2)(markov_next(table), start, {}, 3, end_token_id=END)
    same, _ = BeamSampler(num_beams=2, no_repeat_ngram_size=2)(markov_next(table), start, {}, 3, end_token_id=END)
    np.testing.assert_array_equal(to_numpy(same), to_numpy(plain))


def test_the_guard_in_a_compiled_loop_of_unknown_width():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function")
    table = random_markov_table(np.random.default_rng(2), 9)
    table[:, END] = -30.0
    for sampler in (GreedySampler(no_repeat_ngram_size=2), BeamSampler(num_beams=2, no_repeat_ngram_size=2)):
        eager, _ = sampler(markov_next(table), np.full((3,), 2, "int32"), {}, 12, end_token_id=END)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def compiled(limits):
            return sampler(markov_next(table), tf.fill([3], 2), {}, limits, end_token_id=END)[0]

        np.testing.assert_array_equal(to_numpy(compiled(tf.fill([3], 12))), to_numpy(eager))


def test_the_guard_round_trips_and_rejects_bad_sizes():
    beam = decoding.get("beam", num_beams=2, no_repeat_ngram_size=3)
    assert decoding.get(decoding.serialize(beam)).no_repeat_ngram_size == 3
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="no_repeat_ngram_size"):
            GreedySampler(no_repeat_ngram_size=bad)
