"""Checks of assignment 2: attention scores, weights and context, against `LuongAttention` / `BahdanauAttention`."""

import keras
import numpy as np
from keras import ops

from lstm_keras.grading.core import Mismatch
from lstm_keras.grading.core import _call
from lstm_keras.grading.core import _compare_gradients
from lstm_keras.grading.core import _compare_values
from lstm_keras.grading.core import _is_numpy
from lstm_keras.grading.core import _normal
from lstm_keras.grading.core import _run
from lstm_keras.grading.core import _unpack

# The weights (by the layers' names) that each attention score takes, and the layer computing it.
ATTENTION_SCORES = {
    "dot": (),
    "general": ("general_kernel",),
    "concat": ("concat_kernel", "score_vector"),
    "additive": ("query_kernel", "key_kernel", "score_vector"),
}


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
