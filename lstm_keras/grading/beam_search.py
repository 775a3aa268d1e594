"""Checks of assignment 3: beam search over the `next(token, state)` contract, against `BeamSampler`."""

import numpy as np
from keras import ops

from lstm_keras.grading.core import Mismatch
from lstm_keras.grading.core import _call
from lstm_keras.grading.core import _compare_values
from lstm_keras.grading.core import _describe
from lstm_keras.grading.core import _run
from lstm_keras.grading.core import _unpack

# The token ids of the beam-search cases: 0 is the start (and padding) token, 1 the end token.
END_TOKEN = 1


def check_beam_search(student_fn, seed=None):
    """Checks `beam_search(next, start_token, state, max_length, num_beams, end_token_id, length_penalty)`.

    The function decodes one sequence with the algorithm of `lstm_keras.decoding.BeamSampler` and
    returns `(tokens, score)`: the generated token ids as a list of ints (the start token left
    out, `end_token_id` included when it was produced, no padding) and the hypothesis' score
    `log P(tokens) / lp(len(tokens))` with `lp(n) = ((5 + n) / 6) ** length_penalty`.
    `next(token, state)` is the library's step contract with a batch of one: `token` `(1,)`
    int32, it returns `(logits (1, vocabulary), new_state, attention)`. The reference is
    `BeamSampler(num_beams, length_penalty)`; the score is recomputed from the student's tokens.
    Cases: a fixed battery first, the same for every call, then random ones. The battery holds a
    case where beam search beats greedy decoding, one with tied probabilities, and random models
    chosen (`FIXED_MODELS`) so that each classic mistake fails at least one case: keeping
    `num_beams` extensions per step instead of `2 * num_beams`, ranking finished hypotheses
    without the length penalty or with the start token counted in it, a finished pool that
    forgets earlier steps, ties ranked by token, greedy decoding. The random cases: Markov chains
    and a recurrent step function with a state, beam sizes 1 to 3, length penalties 0 and 0.6.
    Tokens must be equal; scores agree within `SCORE_ATOL` + `SCORE_RTOL` (loose enough for
    log-probabilities computed in half precision, tight enough for a wrong length penalty).

    Args:
        student_fn: the student's function.
        seed: the seed of the random cases, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """
    from lstm_keras.decoding import BeamSampler

    def body(rng, counter):
        cases = fixed_cases()
        for k in range(5):
            vocabulary_size = int(rng.integers(4, 7))
            next_fn = _markov_next(rng, vocabulary_size) if k % 2 == 0 else _recurrent_next(rng, vocabulary_size)
            kind = "Markov chain" if k % 2 == 0 else "recurrent step function with a state"
            cases.append((f"random {kind}, vocabulary {vocabulary_size}", next_fn, 1 + k % 3,
                          int(rng.integers(3, 6)), (0.0, 0.6)[k % 2], ""))
        for n, (kind, (next_fn, state), num_beams, max_length, alpha, hint) in enumerate(cases, 1):
            where = (f"case {n} of {len(cases)} ({kind}, num_beams={num_beams}, max_length={max_length}, "
                     f"length_penalty={alpha})")
            start = np.zeros((1,), "int32")
            tokens, _ = BeamSampler(num_beams=num_beams, length_penalty=alpha)(
                next_fn, start, state, max_length, end_token_id=END_TOKEN
            )
            expected = _strip(ops.convert_to_numpy(tokens)[0])
            fn_name = getattr(student_fn, "__name__", "your function")
            out = _call(student_fn, where, fn_name, next_fn, 0, state, max_length, num_beams, END_TOKEN, alpha)
            got_tokens, got_score = _unpack(out, ("tokens", "score"), where)
            try:
                got_tokens = [int(t) for t in np.asarray(ops.convert_to_numpy(got_tokens)).reshape(-1)]
            except Exception as error:  # noqa: BLE001
                raise Mismatch(f"{where}: tokens should be a list of ints; got {_describe(got_tokens)} ({error})")
            if got_tokens != expected:
                raise Mismatch(
                    f"{where}: tokens: got {got_tokens}, expected {expected} (first difference at position "
                    f"{_first_difference(got_tokens, expected)}){hint}"
                )
            counter.append(1)
            expected_score = _sequence_score(next_fn, state, expected, alpha)
            _compare_values(f"{where}: score", got_score, np.float64(expected_score), counter, atol=SCORE_ATOL,
                            rtol=SCORE_RTOL)

    return _run("check_beam_search", body, seed, compared="tokens and scores")


# The random models of the fixed battery: (kind, seed, num_beams, max_length, length_penalty). The model
# of `seed` is `_markov_next` or `_recurrent_next` of `np.random.default_rng(seed)` after drawing a vocabulary
# size in 4..7. Chosen by running every classic mistake on many such models (the grading tests run them all
# again): together with the hand-made cases, each mistake fails at least one case.
FIXED_MODELS = (
    ("Markov chain", 5, 2, 4, 0.6),
    ("Markov chain", 7, 3, 6, 0.6),
    ("recurrent step function", 0, 2, 4, 0.6),
)
# Score tolerances: a score computed from float16 log-probabilities passes, a wrong length penalty does not.
SCORE_ATOL, SCORE_RTOL = 1e-2, 1e-2


def fixed_cases():
    """The fixed battery: `(description, (next, state), num_beams, max_length, length_penalty, hint)` tuples."""
    cases = [
        ("beam beats greedy", _beats_greedy_next(), 2, 3, 0.0,
         "; greedy decoding gives [2, 2, 2]: keep `num_beams` live hypotheses"),
        ("tied probabilities", _tied_next(), 1, 3, 0.0,
         "; A (2) and B (3) are equally likely after the start: ties go to the earlier hypothesis and the smaller "
         "token id, as a stable sort or `heapq.nlargest(..., key=...)` ranks them"),
    ]
    for kind, seed, num_beams, max_length, alpha in FIXED_MODELS:
        rng = np.random.default_rng(seed)
        vocabulary_size = int(rng.integers(4, 8))
        model = _markov_next(rng, vocabulary_size) if kind == "Markov chain" else _recurrent_next(rng, vocabulary_size)
        cases.append((f"{kind} {seed}, vocabulary {vocabulary_size}", model, num_beams, max_length, alpha,
                      "; check the 2 * num_beams extensions kept per step, the finished pool kept across steps, and "
                      "the length penalty of the generated tokens (the start token not counted)"))
    return cases


def _markov_next(rng, vocabulary_size):
    """A step function whose logits depend only on the previous token (a random Markov chain)."""
    probabilities = rng.dirichlet(np.ones(vocabulary_size) * 0.7, size=vocabulary_size)
    probabilities[:, 0] = 1e-9  # the start/padding token is never generated
    table = np.log(probabilities / probabilities.sum(axis=1, keepdims=True)).astype("float32")
    return _chain_next(table)


def _chain_next(table):
    """The step function of a Markov chain: the logits after token `t` are row `t` of `table` `(V, V)`."""

    def next(token, state):
        return ops.take(table, token, axis=0), state, None  # (batch, V)

    return next, {}


def _recurrent_next(rng, vocabulary_size, units=4):
    """A tiny random recurrent step function with a state `{"h": (batch, units)}`."""
    embeddings = rng.normal(size=(vocabulary_size, units)).astype("float32")
    recurrent = rng.normal(size=(units, units)).astype("float32")
    output = (2.0 * rng.normal(size=(units, vocabulary_size))).astype("float32")
    output[:, 0] = -30.0  # the start/padding token is never generated

    def next(token, state):
        h = ops.tanh(ops.matmul(state["h"], recurrent) + ops.take(embeddings, token, axis=0))  # (batch, units)
        return ops.matmul(h, output), {"h": h}, None  # (batch, V)

    return next, {"h": np.zeros((1, units), "float32")}


def _beats_greedy_next():
    """The Markov chain of `BeamSampler`'s docstring: greedy gives [2, 2, 2], beam search [3, 1]."""
    table = np.log(np.array(
        [[1e-9, 1e-9, 0.6, 0.4], [1e-9, 1.0, 1e-9, 1e-9], [1e-9, 0.3, 0.36, 0.34], [1e-9, 0.9, 0.05, 0.05]],
        "float32",
    ))
    return _chain_next(table)


def _sequence_score(next_fn, state, tokens, alpha):
    """`log P(tokens) / lp(len(tokens))`, feeding the tokens through `next` from the start token."""
    log_prob, token = 0.0, 0
    for t in tokens:
        logits, state, _ = next_fn(np.array([token], "int32"), state)
        log_prob += float(ops.convert_to_numpy(ops.log_softmax(ops.cast(logits, "float32"), axis=-1))[0, t])
        token = t
    return log_prob / ((5.0 + len(tokens)) / 6.0) ** alpha


def _tied_next():
    """A Markov chain over [PAD, END, A, B, C] where A and B are equally likely after the start and lead alike."""
    table = np.log(np.array(
        [[1e-9, 1e-9, 0.4, 0.4, 0.2], [1e-9, 1.0, 1e-9, 1e-9, 1e-9], [1e-9, 0.5, 0.2, 0.2, 0.1],
         [1e-9, 0.5, 0.2, 0.2, 0.1], [1e-9, 1.0, 1e-9, 1e-9, 1e-9]],
        "float32",
    ))
    return _chain_next(table)


def _strip(tokens):
    """The generated tokens up to and including the first end token."""
    tokens = [int(t) for t in tokens]
    return tokens[: tokens.index(END_TOKEN) + 1] if END_TOKEN in tokens else tokens


def _first_difference(a, b):
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))
