"""`lstm_keras.grading`: correct answers pass, wrong ones fail at the first mismatch, unfinished ones never raise."""

import functools
import heapq

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras import grading


# Correct answers, written independently of the library: NumPy code and keras.ops code.
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm_gates(x, h_prev, kernel, recurrent_kernel, bias):
    z = x @ kernel + h_prev @ recurrent_kernel + bias  # (batch, 4 * units)
    i, f, g, o = np.split(z, 4, axis=-1)
    return sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)


def numpy_lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
    i, f, g, o = numpy_lstm_gates(x, h_prev, kernel, recurrent_kernel, bias)
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def ops_lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
    z = ops.matmul(x, kernel) + ops.matmul(h_prev, recurrent_kernel) + bias  # (batch, 4 * units)
    i, f, g, o = ops.split(z, 4, axis=-1)
    c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


def dot_score(query, values):
    return ops.einsum("bd,btd->bt", query, values)  # (batch, Tv)


def additive_score(query, values, query_kernel, key_kernel, score_vector):
    hidden = ops.tanh(ops.expand_dims(ops.matmul(query, query_kernel), 1) + ops.matmul(values, key_kernel))
    return ops.matmul(hidden, score_vector)  # (batch, Tv)


def general_score(query, values, general_kernel):
    return np.einsum("bd,btd->bt", np.asarray(query) @ np.asarray(general_kernel), np.asarray(values))


def make_attention(score_fn):
    def attention(query, values, mask=None, **weights):
        scores = score_fn(query, values, **weights)  # (batch, Tv)
        if mask is not None:
            scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return ops.einsum("bt,btd->bd", weights, values), weights

    return attention


# The classic mistakes of a beam search, each a switch of `beam_search` below.
BEAM_MISTAKES = {
    "keeps num_beams candidates": "only `num_beams` extensions are kept per step instead of `2 * num_beams`",
    "no length penalty": "finished hypotheses are ranked by their log-probability alone",
    "penalty counts the start token": "`lp(n)` is taken with the start token counted in `n`",
    "finished pool not kept": "the finished pool holds only the hypotheses that finished at the last step",
    "ties by token": "`heapq.nlargest` without a key: equal log-probabilities are ranked by their tokens",
    "greedy": "`num_beams` is ignored (one hypothesis)",
}


def beam_search(next, start_token, state, max_length, num_beams, end_token_id, length_penalty=0.0, mistake=None,
                precision=None):
    """The algorithm of the assignment, on Python lists; `mistake` (a key of `BEAM_MISTAKES`) makes it wrong.

    `precision`: a NumPy float dtype the log-probabilities are rounded to (an accelerator's reduced precision).
    """
    assert mistake is None or mistake in BEAM_MISTAKES
    if mistake == "greedy":
        num_beams = 1

    def penalty(n):
        return ((5.0 + n + (mistake == "penalty counts the start token")) / 6.0) ** (
            0.0 if mistake == "no length penalty" else length_penalty)

    def best(n, items):
        if mistake == "ties by token":
            return heapq.nlargest(n, items, key=lambda c: (c[0], c[1]))
        return heapq.nlargest(n, items, key=lambda c: c[0])

    alive = [(0.0, [start_token], state)]
    finished = []
    for step in range(max_length):
        candidates = []
        for log_prob, tokens, hyp_state in alive:
            logits, new_state, _ = next(np.array([tokens[-1]], "int32"), hyp_state)
            log_probs = np.asarray(ops.convert_to_numpy(ops.log_softmax(logits, axis=-1)))[0]
            if precision is not None:
                log_probs = log_probs.astype(precision).astype("float64")
            candidates += [(log_prob + float(lp), tokens + [v], new_state) for v, lp in enumerate(log_probs)]
        candidates = best(num_beams if mistake == "keeps num_beams candidates" else 2 * num_beams, candidates)
        ends = [c for c in candidates if c[1][-1] == end_token_id or step + 1 == max_length]
        new = [(lp / penalty(len(t) - 1), t[1:]) for lp, t, _ in ends]
        finished = best(num_beams, new if mistake == "finished pool not kept" and new else finished + new)
        alive = [c for c in candidates if not (c[1][-1] == end_token_id or step + 1 == max_length)][:num_beams]
    score, tokens = finished[0]
    return tokens, score


def unfinished(*args, **kwargs):
    raise NotImplementedError()


def test_correct_answers_pass(capsys):
    assert grading.check_lstm_gates(numpy_lstm_gates, seed=1).passed
    assert grading.check_lstm_step(numpy_lstm_step, seed=2).passed
    assert grading.check_attention_score(additive_score, score="additive", seed=3).passed
    assert grading.check_attention_score(dot_score, score="dot", seed=4).passed
    assert grading.check_attention(make_attention(dot_score), score="dot", seed=5).passed
    assert grading.check_attention(make_attention(additive_score), score="additive", seed=6).passed
    out = capsys.readouterr().out
    assert out.count("[grading]") == 6 and out.count(": PASSED") == 6, out


@pytest.mark.skipif(keras.backend.backend() not in ("tensorflow", "jax"), reason="autodiff helper")
def test_keras_ops_answer_is_checked_by_autodiff():
    result = grading.check_lstm_step(ops_lstm_step, seed=7)
    assert result.passed, result
    # NumPy code gets its gradient from finite differences; it needs the general score's kernel.
    assert grading.check_attention_score(general_score, score="general", seed=8).passed


def test_beam_search_passes():
    result = grading.check_beam_search(beam_search, seed=9)
    assert result.passed, result.mismatch


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's TF32 setting")
def test_checks_run_with_exact_float32():
    import tensorflow as tf

    seen = []

    def step(*args):
        seen.append(tf.config.experimental.tensor_float_32_execution_enabled())
        return numpy_lstm_step(*args)

    assert grading.check_lstm_step(step, seed=2).passed
    assert seen and not any(seen)
    assert tf.config.experimental.tensor_float_32_execution_enabled()  # TensorFlow's default, restored


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_correct_answers_pass_after_mixed_precision_is_turned_on(policy):
    """A student who ran the tutorials' mixed-precision line: the library's references still compute in float32."""
    keras.config.set_dtype_policy(policy)
    try:
        assert grading.check_lstm_step(numpy_lstm_step, seed=2).passed
        assert grading.check_lstm_gates(numpy_lstm_gates, seed=1).passed
        assert grading.check_attention(make_attention(dot_score), score="dot", seed=5).passed
        assert grading.check_slstm_step(numpy_slstm_step, seed=0).passed
        assert keras.config.dtype_policy().name == policy
    finally:
        keras.config.set_dtype_policy("float32")


def test_wrong_lstm_step_names_first_mismatch():
    def wrong(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
        h, c = numpy_lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias)
        return np.tanh(c), c  # forgot the output gate

    result = grading.check_lstm_step(wrong, seed=0)
    assert not result.passed
    assert result.mismatch.startswith("case 1 of 4 (batch=1, input_dim=1, units=1): h: value at index [0, 0]")
    assert result.comparisons == 1  # the shape of h passed, its value did not


def test_wrong_gate_order_is_named():
    def swapped(x, h_prev, kernel, recurrent_kernel, bias):
        i, f, g, o = numpy_lstm_gates(x, h_prev, kernel, recurrent_kernel, bias)
        return f, i, g, o

    result = grading.check_lstm_gates(swapped, seed=0)
    assert not result.passed and ": i: value at index" in result.mismatch


def test_wrong_shape_is_named():
    def transposed(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
        h, c = numpy_lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias)
        return h.T, c

    result = grading.check_lstm_step(transposed, seed=0)
    assert not result.passed
    assert "case 2 of 4" in result.mismatch and "h: shape (4, 2), expected (2, 4)" in result.mismatch


def test_wrong_return_structure_is_named():
    result = grading.check_lstm_step(lambda *args: numpy_lstm_step(*args)[0], seed=0)
    assert not result.passed and "should return a tuple (h, c)" in result.mismatch


def test_stop_gradient_fails_the_gradient_check():
    def no_gradient(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
        h, c = ops_lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias)
        return ops.stop_gradient(h), c

    if keras.backend.backend() not in ("tensorflow", "jax"):
        pytest.skip("autodiff helper")
    result = grading.check_lstm_step(no_gradient, seed=0)
    assert not result.passed and "gradient with respect to x (autodiff" in result.mismatch


def test_unmasked_attention_fails_on_masked_case():
    def ignores_mask(query, values, mask=None):
        return make_attention(dot_score)(query, values)

    result = grading.check_attention(ignores_mask, score="dot", seed=0)
    assert not result.passed
    assert result.mismatch.startswith("case 2 of 3 (batch=2, Tv=4, d=3, with a mask): context: value")


@pytest.mark.parametrize("mistake", sorted(BEAM_MISTAKES))
def test_every_classic_beam_search_mistake_fails_the_fixed_cases(mistake):
    result = grading.check_beam_search(functools.partial(beam_search, mistake=mistake), seed=0)
    assert not result.passed, f"{mistake} ({BEAM_MISTAKES[mistake]}) passed"
    case = int(result.mismatch.split()[1])
    assert case <= len(grading.beam_search.fixed_cases()), result.mismatch  # caught whatever the random cases


@pytest.mark.parametrize("precision", [None, np.float16])
def test_a_right_beam_search_passes_whatever_the_seed_and_in_half_precision(precision):
    for seed in range(2):
        result = grading.check_beam_search(functools.partial(beam_search, precision=precision), seed=seed)
        assert result.passed, result.mismatch


def test_tied_probabilities_name_the_tie_order():
    result = grading.check_beam_search(functools.partial(beam_search, mistake="ties by token"), seed=0)
    assert result.mismatch.startswith("case 2 of") and "tokens: got [3, 1], expected [2, 1]" in result.mismatch
    assert "ties go to the earlier hypothesis and the smaller token id" in result.mismatch


def test_wrong_beam_search_names_tokens():
    def greedy(next, start_token, state, max_length, num_beams, end_token_id, length_penalty=0.0):
        return beam_search(next, start_token, state, max_length, 1, end_token_id, length_penalty)

    result = grading.check_beam_search(greedy, seed=0)
    assert not result.passed
    assert result.mismatch.startswith("case 1 of 10 (beam beats greedy")
    assert "tokens: got [2, 2, 2], expected [3, 1]" in result.mismatch


@pytest.mark.parametrize(
    "check",
    [grading.check_lstm_gates, grading.check_lstm_step, grading.check_attention_score, grading.check_attention,
     grading.check_beam_search],
)
def test_unfinished_answer_is_not_passed_and_does_not_raise(check, capsys):
    result = check(unfinished, seed=0)
    assert not result.passed and not result
    assert "raised NotImplementedError: not implemented yet" in result.mismatch
    out = capsys.readouterr().out
    assert out.startswith(f"[grading] {result.name}: NOT PASSED"), out


@pytest.mark.parametrize("answer", [lambda *a, **k: None, lambda *a, **k: 1 / 0, lambda *a, **k: "text", print])
def test_any_broken_answer_is_reported_not_raised(answer):
    for check in (grading.check_lstm_step, grading.check_attention, grading.check_beam_search):
        result = check(answer, seed=0)
        assert not result.passed and result.mismatch


def test_try_it_prints_shapes_and_survives_unfinished(capsys):
    out = grading.try_it(numpy_lstm_step, *[np.zeros(s, "float32") for s in [(2, 3), (2, 4), (2, 4), (3, 16),
                                                                            (4, 16), (16,)]])
    assert grading.try_it(unfinished) is None
    printed = capsys.readouterr().out
    assert out[0].shape == (2, 4)
    assert "numpy_lstm_step returned: [0] (2, 4) float32, [1] (2, 4) float32" in printed
    assert "unfinished is not implemented yet" in printed


def test_fresh_inputs_without_seed():
    first = grading.check_lstm_step(unfinished)
    second = grading.check_lstm_step(unfinished)
    assert first.seed != second.seed


# ------------------------------------------------------------------ assignment 4: the stabilised sLSTM step
def numpy_slstm_step(x, h_prev, c_prev, n_prev, m_prev, kernel, recurrent, bias, stabilised=True):
    """The sLSTM step written from the xLSTM paper's equations (8-17), in float64."""
    z = x @ kernel + h_prev @ recurrent + bias
    i_pre, f_pre, z_pre, o_pre = np.split(z.astype("float64"), 4, axis=-1)
    log_f = -np.logaddexp(0.0, -f_pre)  # log σ(f̃)
    if not stabilised:  # the paper's eqs. 8-13 as written: exp(ĩ) overflows for large ĩ
        i, f = np.exp(i_pre), np.exp(log_f)
        c = f * c_prev + i * np.tanh(z_pre)
        n = f * n_prev + i
        return sigmoid(o_pre) * c / n, c, n, np.zeros_like(c)
    m = np.where(n_prev == 0, i_pre, np.maximum(log_f + m_prev, i_pre))
    i, f = np.exp(i_pre - m), np.where(n_prev == 0, 0.0, np.exp(log_f + m_prev - m))
    c = f * c_prev + i * np.tanh(z_pre)
    n = f * n_prev + i
    return sigmoid(o_pre) * c / n, c, n, m


def test_the_stabilised_slstm_step_passes_and_the_naive_one_fails_with_a_hint(capsys):
    assert grading.check_slstm_step(numpy_slstm_step, seed=0).passed
    result = grading.check_slstm_step(lambda *a: numpy_slstm_step(*a, stabilised=False), seed=0)
    assert not result.passed and "hint: the stabiliser" in result.mismatch


def test_a_wrong_slstm_output_gate_is_named():
    def wrong_output(*args):
        h, c, n, m = numpy_slstm_step(*args)
        return np.tanh(h), c, n, m

    result = grading.check_slstm_step(wrong_output, seed=1)
    assert not result.passed and ": h:" in result.mismatch and "hint: the output" in result.mismatch
