"""Checks for the course assignments: a student's function against the library's reference.

Every check draws fresh random inputs (the seed is printed, so a failure can be repeated), runs
the student's function and the library's reference on them and compares, in this order, the
structure of the output, its shapes, its values and, where it means something, its gradient: the
backend's autodiff of the student's function (or central finite differences along random
directions when the function is NumPy code that autodiff cannot see through) against the
autodiff of the library's reference. It stops at the first mismatch and names it.

A check never raises: an unfinished answer (`raise NotImplementedError()`), a wrong shape, a
`None` or any exception is reported as not passed. It prints its result on a line that starts
with `[grading]` (the notebook tests read these lines) and returns a `CheckResult`.

| check | the student writes | the reference |
|---|---|---|
| `check_lstm_gates` | `lstm_gates(x, h_prev, kernel, recurrent_kernel, bias) -> (i, f, g, o)` | `GatedLSTMCell` |
| `check_lstm_step` | `lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias) -> (h, c)` | `GatedLSTMCell` |
| `check_attention_score` | `score(query, values, **weights) -> scores` | `LuongAttention` / `BahdanauAttention` |
| `check_attention` | `attention(query, values, mask=None, **weights) -> (context, weights)` | the same layers |
| `check_beam_search` | `beam_search(next, start_token, state, max_length, num_beams, end_token_id, length_penalty) -> (tokens, score)` | `BeamSampler` |

Example:
>>> import numpy as np
>>> def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
...     raise NotImplementedError()
>>> result = check_lstm_step(lstm_step, seed=0)
[grading] check_lstm_step: NOT PASSED (0 comparisons passed; seed=0)
  first mismatch: lstm_step raised NotImplementedError: not implemented yet (write your code in place of `raise NotImplementedError()`)
>>> result.passed
False
"""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from lstm_keras.diagnostics import gradients

# Every printed result starts with this; the notebook tests look for it.
PREFIX = "[grading]"
# Tolerances of value comparisons (float32 computations on both sides).
ATOL, RTOL = 1e-5, 1e-4
# Tolerances of gradient comparisons: autodiff against autodiff, and finite differences.
GRAD_ATOL, GRAD_RTOL = 1e-4, 1e-3
FD_EPSILON, FD_ATOL, FD_RTOL = 1e-2, 2e-2, 2e-2

# The weights (by the layers' names) that each attention score takes, and the layer computing it.
ATTENTION_SCORES = {
    "dot": (),
    "general": ("general_kernel",),
    "concat": ("concat_kernel", "score_vector"),
    "additive": ("query_kernel", "key_kernel", "score_vector"),
}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The result of a check: whether it passed, how many comparisons passed, the first mismatch.

    Attributes:
        name: the check, e.g. `"check_lstm_step"`.
        passed: True when every comparison passed.
        comparisons: how many comparisons (shapes, values, gradients) passed.
        mismatch: a sentence naming the first mismatch (or the exception raised), or None.
        seed: the seed of the random inputs; pass it to the check to repeat them.
        compared: what the comparisons were about, for the printed line.
    """

    name: str
    passed: bool
    comparisons: int
    mismatch: str | None = None
    seed: int | None = None
    compared: str = "shapes, values and gradients"

    def __bool__(self):
        return self.passed

    def __str__(self):
        if self.passed:
            return f"{PREFIX} {self.name}: PASSED ({_plural(self.comparisons)} of {self.compared})"
        return (
            f"{PREFIX} {self.name}: NOT PASSED ({_plural(self.comparisons)} passed; seed={self.seed})\n"
            f"  first mismatch: {self.mismatch}"
        )


class Mismatch(Exception):
    """Raised inside a check at the first comparison that fails; the check reports it."""


def try_it(fn, *args, **kwargs):
    """Calls a student's function once and prints the shapes it returns, or why it failed.

    A "try it" cell for assignment notebooks that never raises, so that an unfinished notebook
    still runs to the end.

    Args:
        fn: the function.
        *args, **kwargs: its arguments.

    Returns:
        What `fn` returned, or None if it raised.

    Example:
    >>> out = try_it(lambda x: (x, x[:1]), np.zeros((2, 3)))
    <lambda> returned: [0] (2, 3) float64, [1] (1, 3) float64
    """
    name = getattr(fn, "__name__", "function")
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        print(f"{name} is not implemented yet (it raised NotImplementedError)")
        return None
    except Exception as error:  # noqa: BLE001 - a student's code may raise anything
        print(f"{name} raised {type(error).__name__}: {error}")
        return None
    print(f"{name} returned: {_describe(out)}")
    return out


def check_lstm_gates(student_fn, seed=None):
    """Checks `lstm_gates(x, h_prev, kernel, recurrent_kernel, bias) -> (i, f, g, o)`.

    The gates and candidate of one LSTM step, each `(batch, units)`: `i`, `f`, `o` the input,
    forget and output gates (sigmoid) and `g` the candidate (tanh), with the weights in the layout
    of `keras.layers.LSTMCell` and `GatedLSTMCell`: `kernel` `(input_dim, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, blocks in the order i, f, g, o.
    The reference is the library's `GatedLSTMCell` (its `project_inputs` and recurrent kernel,
    checked to reproduce the cell's own step); the gradient is compared for `sum(i*r1 + f*r2 + ...)`.

    Args:
        student_fn: the student's function; NumPy or `keras.ops` code.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """

    def reference(cell, x, h, *weights):
        with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
            z = cell.project_inputs(x) + ops.matmul(h, cell.recurrent_kernel)  # (batch, 4 * units)
            i, f, g, o = ops.split(z, 4, axis=-1)  # 4 x (batch, units)
            return [cell.recurrent_activation(i), cell.recurrent_activation(f), cell.activation(g),
                    cell.recurrent_activation(o)]

    return _check_lstm("check_lstm_gates", student_fn, seed, ("i", "f", "g", "o"), reference, with_cell_state=False)


def check_lstm_step(student_fn, seed=None):
    """Checks `lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias) -> (h, c)`.

    One step of the standard LSTM (the equations of `GatedLSTMCell`, variant "vanilla"), with the
    weights in the layout of `keras.layers.LSTMCell`: `kernel` `(input_dim, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, blocks in the order input,
    forget, candidate, output. `x` is `(batch, input_dim)`, the states `(batch, units)`. The
    reference is the library's `GatedLSTMCell`; the gradient of `sum(h * r1 + c * r2)` with respect
    to every argument is compared.

    Args:
        student_fn: the student's function; NumPy or `keras.ops` code.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """

    def reference(cell, x, h, c, *weights):
        with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
            _, (h_new, c_new) = cell(x, [h, c])
        return [h_new, c_new]

    return _check_lstm("check_lstm_step", student_fn, seed, ("h", "c"), reference, with_cell_state=True)


def check_attention_score(student_fn, score="additive", seed=None):
    """Checks an attention score function `score(query, values, **weights) -> (batch, Tv)`.

    `query` is one decoder step `(batch, d)`, `values` the encoder outputs `(batch, Tv, dv)`;
    the weights are passed by keyword with the library layers' names (see `ATTENTION_SCORES`):
    "dot" none, "general" `general_kernel` `(d, dv)`, "concat" `concat_kernel` `(d + dv, units)`
    and `score_vector` `(units,)`, "additive" (Bahdanau) `query_kernel` `(d, units)`,
    `key_kernel` `(dv, units)` and `score_vector` `(units,)`. The reference is the score of
    `LuongAttention(score=...)` / `BahdanauAttention(units)`.

    Args:
        student_fn: the student's function.
        score: one of `ATTENTION_SCORES`.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """
    return _check_attention(f"check_attention_score(score={score!r})", student_fn, score, seed, scores_only=True)


def check_attention(student_fn, score="dot", seed=None):
    """Checks `attention(query, values, mask=None, **weights) -> (context, weights)`.

    The attention weights `a = softmax(scores)` over the source steps, zero where `mask` is False
    (`mask` `(batch, Tv)` bool, or None), and the context `Σ_j a_j values_j` `(batch, dv)`;
    weights `(batch, Tv)`. Score weights as in `check_attention_score`. The reference is
    `LuongAttention` / `BahdanauAttention` called with `return_attention_scores=True`; masked
    cases keep at least one real step per row; the gradient of `sum(context * r)` is compared.

    Args:
        student_fn: the student's function.
        score: one of `ATTENTION_SCORES`: the score the function uses.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """
    return _check_attention(f"check_attention(score={score!r})", student_fn, score, seed, scores_only=False)


def check_beam_search(student_fn, seed=None):
    """Checks `beam_search(next, start_token, state, max_length, num_beams, end_token_id, length_penalty)`.

    The function decodes one sequence with the algorithm of `lstm_keras.decoding.BeamSampler` and
    returns `(tokens, score)`: the generated token ids as a list of ints (the start token left
    out, `end_token_id` included when it was produced, no padding) and the hypothesis' score
    `log P(tokens) / lp(len(tokens))` with `lp(n) = ((5 + n) / 6) ** length_penalty`.
    `next(token, state)` is the library's step contract with a batch of one: `token` `(1,)`
    int32, it returns `(logits (1, vocabulary), new_state, attention)`. The reference is
    `BeamSampler(num_beams, length_penalty)`; the score is recomputed from the student's tokens.
    Cases: random Markov chains, a recurrent step function with a state, beam sizes 1 to 3,
    length penalties 0 and 0.6, and a case where beam search beats greedy decoding.

    Args:
        student_fn: the student's function.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """
    from lstm_keras.decoding import BeamSampler

    def body(rng, counter):
        cases = [("beam beats greedy", _beats_greedy_next(), 2, 3, 0.0)]
        for k in range(5):
            vocabulary_size = int(rng.integers(4, 7))
            next_fn = _markov_next(rng, vocabulary_size) if k % 2 == 0 else _recurrent_next(rng, vocabulary_size)
            kind = "Markov chain" if k % 2 == 0 else "recurrent step function with a state"
            cases.append((f"{kind}, vocabulary {vocabulary_size}", next_fn, 1 + k % 3, int(rng.integers(3, 6)),
                          (0.0, 0.6)[k % 2]))
        for n, (kind, (next_fn, state), num_beams, max_length, alpha) in enumerate(cases, 1):
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
                    f"{_first_difference(got_tokens, expected)})"
                )
            counter.append(1)
            expected_score = _sequence_score(next_fn, state, expected, alpha)
            _compare_values(f"{where}: score", got_score, np.float64(expected_score), counter, atol=1e-4, rtol=1e-4)

    return _run("check_beam_search", body, seed, compared="tokens and scores")


# The token ids of the beam-search cases: 0 is the start (and padding) token, 1 the end token.
END_TOKEN = 1


def _check_lstm(name, student_fn, seed, output_names, reference, with_cell_state):
    from lstm_keras.layers import GatedLSTMCell

    fn_name = getattr(student_fn, "__name__", "your function")
    arg_names = ("x", "h_prev", "c_prev", "kernel", "recurrent_kernel", "bias")
    if not with_cell_state:
        arg_names = ("x", "h_prev", "kernel", "recurrent_kernel", "bias")

    def body(rng, counter):
        shapes = [(1, 1, 1), (2, 3, 4), (3, 5, 2), (4, 2, 6)]
        for n, (batch, input_dim, units) in enumerate(shapes, 1):
            where = f"case {n} of {len(shapes)} (batch={batch}, input_dim={input_dim}, units={units})"
            cell = GatedLSTMCell(units)
            cell.build((None, input_dim))
            x = _normal(rng, (batch, input_dim))
            h = _normal(rng, (batch, units), 0.5)
            c = _normal(rng, (batch, units))
            weights = [_normal(rng, w.shape, 0.5) for w in cell.trainable_variables]  # kernel, recurrent_kernel, bias
            args = [x, h, c, *weights] if with_cell_state else [x, h, *weights]

            def ref(*a):
                if with_cell_state:
                    return reference(cell, *a)
                return reference(cell, a[0], a[1], *a[2:])

            expected = [ops.convert_to_numpy(t) for t in ref(*args)]
            if not with_cell_state:
                _check_gates_reference(cell, x, h, c, weights, expected)
            out = _call(student_fn, where, fn_name, *args)
            got = _unpack(out, output_names, f"{where}: {fn_name}")
            for label, g, e in zip(output_names, got, expected):
                _compare_values(f"{where}: {label}", g, e, counter)
            _compare_gradients(where, fn_name, student_fn, ref, args, arg_names, _is_numpy(got), rng, counter)

    return _run(name, body, seed)


def _check_gates_reference(cell, x, h, c, weights, gates):
    """The gates computed from the cell's pieces must give the cell's own step: `c' = f c + i g`."""
    i, f, g, _ = gates
    with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
        _, (_, c_new) = cell(x, [h, c])
    if not np.allclose(ops.convert_to_numpy(c_new), f * c + i * g, atol=1e-5):
        raise RuntimeError("the reference gates do not reproduce GatedLSTMCell's step")


def _check_attention(name, student_fn, score, seed, scores_only):
    from lstm_keras.layers import BahdanauAttention
    from lstm_keras.layers import LuongAttention

    if score not in ATTENTION_SCORES:
        raise ValueError(f"Invalid value for argument `score`: received {score!r}; allowed: {sorted(ATTENTION_SCORES)}.")
    fn_name = getattr(student_fn, "__name__", "your function")

    def body(rng, counter):
        shapes = [(1, 2, 2, 2), (2, 4, 3, 3), (3, 6, 5, 4)]
        for n, (batch, source_length, dim, units) in enumerate(shapes, 1):
            masked = n >= 2 and not scores_only
            where = (f"case {n} of {len(shapes)} (batch={batch}, Tv={source_length}, d={dim}"
                     f"{', with a mask' if masked else ''})")
            value_dim = dim if score == "dot" else dim + 1
            layer = BahdanauAttention(units) if score == "additive" else LuongAttention(score=score, units=units)
            layer.build((None, dim), (None, source_length, value_dim))
            query = _normal(rng, (batch, dim))
            values = _normal(rng, (batch, source_length, value_dim))
            mask = None
            if masked:
                lengths = rng.integers(1, source_length + 1, size=batch)
                lengths[0] = source_length - 1 if source_length > 1 else 1
                mask = np.arange(source_length)[None, :] < lengths[:, None]  # (batch, Tv)
            names = [v.name for v in layer.trainable_variables]
            weights = [_normal(rng, v.shape) for v in layer.trainable_variables]
            if tuple(names) != ATTENTION_SCORES[score]:
                raise RuntimeError(f"the {score} layer's weights are {names}, expected {ATTENTION_SCORES[score]}")

            def ref(query, values, *weight_values):
                with keras.StatelessScope(state_mapping=list(zip(layer.trainable_variables, weight_values))):
                    if scores_only:
                        keys = layer.project_keys(values)
                        return [ops.squeeze(layer._score(ops.expand_dims(query, 1), values, keys), 1)]  # (batch, Tv)
                    return list(layer(query, values, mask=mask, return_attention_scores=True))

            def student(query, values, *weight_values):
                kwargs = dict(zip(names, weight_values))
                if scores_only:
                    return [student_fn(query, values, **kwargs)]
                out = student_fn(query, values, mask=mask, **kwargs)
                return _unpack(out, ("context", "weights"), f"{where}: {fn_name}")

            args = [query, values, *weights]
            expected = [ops.convert_to_numpy(t) for t in ref(*args)]
            output_names = ("scores",) if scores_only else ("context", "weights")
            got = _call(student, where, fn_name, *args)
            for label, g, e in zip(output_names, got, expected):
                _compare_values(f"{where}: {label}", g, e, counter)
            if not scores_only:
                weights_sum = np.sum(ops.convert_to_numpy(got[1]), axis=-1)
                if not np.allclose(weights_sum, 1.0, atol=1e-5):
                    raise Mismatch(f"{where}: the attention weights of a row should sum to 1; they sum to {weights_sum}")
                counter.append(1)
            _compare_gradients(where, fn_name, student, ref, args, ("query", "values", *names), _is_numpy(got), rng,
                               counter)

    return _run(name, body, seed)


def _plural(n):
    return f"{n} comparison" if n == 1 else f"{n} comparisons"


def _run(name, body, seed, compared="shapes, values and gradients"):
    """Runs a check's body, turning its first mismatch (or any error) into a printed `CheckResult`."""
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    counter = []
    try:
        body(np.random.default_rng(seed), counter)
    except Mismatch as mismatch:
        result = CheckResult(name, False, len(counter), str(mismatch), seed, compared)
    except Exception as error:  # noqa: BLE001 - a check reports, it never raises
        message = f"the check could not run: {type(error).__name__}: {error}"
        result = CheckResult(name, False, len(counter), message, seed, compared)
    else:
        result = CheckResult(name, True, len(counter), None, seed, compared)
    print(result, flush=True)
    return result


def _call(fn, where, fn_name, *args, **kwargs):
    """Calls a student's function; any exception becomes a `Mismatch` that names it."""
    try:
        return fn(*args, **kwargs)
    except Mismatch:
        raise
    except NotImplementedError:
        raise Mismatch(
            f"{fn_name} raised NotImplementedError: not implemented yet (write your code in place of "
            "`raise NotImplementedError()`)"
        ) from None
    except Exception as error:  # noqa: BLE001 - a student's code may raise anything
        raise Mismatch(f"{where}: {fn_name} raised {type(error).__name__}: {error}") from None


def _is_numpy(outputs):
    """Whether a function's outputs are NumPy values (NumPy code, which autodiff cannot see through)."""
    return all(isinstance(o, (np.ndarray, np.generic, float, int)) for o in outputs)


def _unpack(out, names, where):
    """Checks that a function returned a tuple/list of `len(names)` things and returns it as a list."""
    if len(names) == 1:
        return [out]
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        raise Mismatch(f"{where} should return a tuple ({', '.join(names)}); it returned {_describe(out)}")
    return list(out)


def _to_numpy(value, label):
    if value is None:
        raise Mismatch(f"{label}: got None (is a `return` missing?)")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as error:  # noqa: BLE001
        raise Mismatch(f"{label}: expected an array, got {_describe(value)} ({error})") from None


def _compare_values(label, got, expected, counter, atol=ATOL, rtol=RTOL):
    """Compares shape then values; the first differing entry is named in the mismatch."""
    got = _to_numpy(got, label)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim == 0 and got.size == 1:
        got = got.reshape(())  # a number returned as a one-element array
    if got.shape != expected.shape:
        raise Mismatch(f"{label}: shape {got.shape}, expected {expected.shape}")
    counter.append(1)
    bad = ~np.isclose(got, expected, atol=atol, rtol=rtol)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
        difference = np.nanmax(np.abs(got - expected)) if np.any(np.isfinite(got)) else float("nan")
        raise Mismatch(
            f"{label}: value at index {list(index)} is {got[index]:.6g}, expected {expected[index]:.6g} "
            f"({int(bad.sum())} of {bad.size} values differ; largest difference {difference:.3g})"
        )
    counter.append(1)


def _compare_gradients(where, fn_name, student, reference, args, arg_names, numpy_code, rng, counter):
    """Compares the gradient of `sum(outputs * probes)` w.r.t. every argument with the reference's.

    The reference's gradient is the backend's autodiff. The student's is autodiff too when the
    function is `keras.ops` code (it returned backend tensors); for NumPy code central finite
    differences along two random directions per argument are compared with the reference's
    directional derivatives.
    """
    outputs = [ops.convert_to_numpy(t) for t in reference(*args)]
    probes = [rng.normal(size=o.shape).astype("float32") for o in outputs]

    def loss(fn):
        def scalar(*a):
            return sum(ops.sum(ops.cast(o, "float32") * p) for o, p in zip(fn(*a), probes))

        return scalar

    expected = _autodiff(loss(reference), args)
    if expected is None:
        return  # no autodiff on this backend: the values were compared, the gradients cannot be
    if not numpy_code:
        got = _autodiff(loss(student), args)
        if got is None:
            raise Mismatch(
                f"{where}: the backend cannot differentiate {fn_name} (does it mix NumPy calls into "
                "keras.ops code?)"
            )
        for name, g, e in zip(arg_names, got, expected):
            _compare_values(
                f"{where}: gradient with respect to {name} (autodiff of {fn_name}; does it mix NumPy calls "
                "into keras.ops code?)", g, e, counter, atol=GRAD_ATOL, rtol=GRAD_RTOL,
            )
        return
    student_loss = loss(student)
    for k, (name, e) in enumerate(zip(arg_names, expected)):
        for _ in range(2):
            direction = rng.normal(size=np.shape(args[k])).astype("float32")
            plus = [a + FD_EPSILON * direction if j == k else a for j, a in enumerate(args)]
            minus = [a - FD_EPSILON * direction if j == k else a for j, a in enumerate(args)]
            high = float(ops.convert_to_numpy(_call(student_loss, where, fn_name, *plus)))
            low = float(ops.convert_to_numpy(_call(student_loss, where, fn_name, *minus)))
            _compare_values(
                f"{where}: gradient with respect to {name} (finite differences of {fn_name})",
                np.float64((high - low) / (2 * FD_EPSILON)), np.float64(np.sum(e * direction)), counter,
                atol=FD_ATOL, rtol=FD_RTOL,
            )


def _autodiff(scalar_fn, args):
    """Gradients of `scalar_fn(*args)` w.r.t. every argument by the backend's autodiff, or None."""
    try:
        return gradients(scalar_fn, args)
    except Mismatch:
        raise
    except Exception:  # noqa: BLE001 - code autodiff cannot see through, or no autodiff on this backend
        return None


def _markov_next(rng, vocabulary_size):
    """A step function whose logits depend only on the previous token (a random Markov chain)."""
    probabilities = rng.dirichlet(np.ones(vocabulary_size) * 0.7, size=vocabulary_size)
    probabilities[:, 0] = 1e-9  # the start/padding token is never generated
    table = np.log(probabilities / probabilities.sum(axis=1, keepdims=True)).astype("float32")

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

    def next(token, state):
        return ops.take(table, token, axis=0), state, None

    return next, {}


def _sequence_score(next_fn, state, tokens, alpha):
    """`log P(tokens) / lp(len(tokens))`, feeding the tokens through `next` from the start token."""
    log_prob, token = 0.0, 0
    for t in tokens:
        logits, state, _ = next_fn(np.array([token], "int32"), state)
        log_prob += float(ops.convert_to_numpy(ops.log_softmax(ops.cast(logits, "float32"), axis=-1))[0, t])
        token = t
    return log_prob / ((5.0 + len(tokens)) / 6.0) ** alpha


def _strip(tokens):
    """The generated tokens up to and including the first end token."""
    tokens = [int(t) for t in tokens]
    return tokens[: tokens.index(END_TOKEN) + 1] if END_TOKEN in tokens else tokens


def _first_difference(a, b):
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))


def _normal(rng, shape, scale=1.0):
    return (scale * rng.normal(size=tuple(shape))).astype("float32")


def _describe(value):
    """A short description of what a function returned: shapes and dtypes, not values."""
    if isinstance(value, (tuple, list)):
        kind = "a tuple" if isinstance(value, tuple) else "a list"
        if len(value) > 8 or all(isinstance(v, (int, np.integer)) for v in value):
            return f"{kind} of {len(value)} items {list(value)[:8]}{'...' if len(value) > 8 else ''}"
        return ", ".join(f"[{k}] {_describe(v)}" for k, v in enumerate(value))
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = keras.backend.standardize_dtype(getattr(value, "dtype", "float32"))
        return f"{tuple(shape)} {dtype}"
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"the number {value:.6g}" if math.isfinite(float(value)) else f"the number {value}"
    return f"a {type(value).__name__}"
