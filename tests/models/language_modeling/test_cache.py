"""`NeuralCache` against the cache equations of Grave et al. (2017) written token by token in NumPy."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from lstm_keras.datasets.language_modeling import language_modeling_windows
from lstm_keras.models.language_modeling import NeuralCache
from models.test_language_model import END
from models.test_language_model import markov_stream
from models.test_language_model import numpy_hidden
from models.test_language_model import numpy_log_probs
from models.test_language_model import untrained


def reference_nll(hidden, log_probs, next_ids, scored, window, theta, lambd):
    """The summed NLL of one row's scored positions, each from its own cache of the `window` positions before it.

    `hidden` (T, d), `log_probs` (T, V): the model read over the row from zero states; `next_ids`
    (T,): the token after each position; `scored` (T,): the positions that count.
    """
    total = 0.0
    for t in np.flatnonzero(scored):
        target = next_ids[t]
        p_model = math.exp(log_probs[t, target])
        keys = range(max(0, t - window), t)
        if not keys:  # an empty cache: the model alone
            total -= math.log(p_model)
            continue
        weights = np.array([math.exp(theta * float(hidden[t] @ hidden[i])) for i in keys])
        p_cache = sum(w for w, i in zip(weights, keys) if next_ids[i] == target) / weights.sum()
        total -= math.log((1 - lambd) * p_model + lambd * p_cache)
    return total


def repetitive_stream(length=90):
    """A Markov text with a phrase that recurs: what a cache is for."""
    stream = markov_stream(4, length)
    stream[10:16] = stream[40:46] = stream[70:76] = [5, 9, 4, 11, 7, 3]
    return stream


@pytest.fixture(scope="module")
def model():
    return untrained(tie_weights=True)


def test_one_row_matches_the_equations_token_by_token(model):
    stream = repetitive_stream()
    inputs = np.concatenate([[END], stream[:-1]])  # (N,)
    hidden = numpy_hidden(model, inputs[None])[0]  # (N, units)
    log_probs = numpy_log_probs(model, inputs[None])[0]  # (N, V)
    cache = NeuralCache(model, window=12, theta=0.7, lambd=0.3, rows=1, step_length=16)
    result = cache(stream)
    expected = reference_nll(hidden, log_probs, stream, np.ones(len(stream), bool), 12, 0.7, 0.3) / len(stream)
    assert result["tokens"] == len(stream)
    np.testing.assert_allclose(result["nll"], expected, rtol=1e-5)
    np.testing.assert_allclose(math.log(result["model_perplexity"]),
                               -log_probs[np.arange(len(stream)), stream].mean(), rtol=1e-5)
    assert result["perplexity"] < result["model_perplexity"]


def test_rows_warm_up_their_state_and_their_cache_and_score_every_token_once(model):
    """Row r >= 1 reads the `window` tokens before its part, unscored, from zero states; they fill its cache."""
    stream, window, rows = repetitive_stream(), 8, 3
    cache = NeuralCache(model, window=window, theta=0.5, lambd=0.4, rows=rows, step_length=5)
    reading = cache.read(stream)
    assert reading.tokens == len(stream)
    np.testing.assert_array_equal(reading.next_ids[reading.scored], stream)  # every token once, in order
    # The reference: row r holds the stream's positions [r L, r L + L + window), L = ceil((N - window) / rows).
    length = -(-(len(stream) - window) // rows)
    inputs = np.concatenate([[END], stream[:-1]])
    total = 0.0
    for row in range(rows):
        positions = np.arange(row * length, min(row * length + length + window, len(stream)))
        scored = positions >= (row * length + window if row else 0)
        hidden = numpy_hidden(model, inputs[positions][None])[0]
        log_probs = numpy_log_probs(model, inputs[positions][None])[0]
        total += reference_nll(hidden, log_probs, stream[positions], scored, window, 0.5, 0.4)
    np.testing.assert_allclose(cache(stream)["nll"], total / len(stream), rtol=1e-5)


def test_a_flat_cache_is_the_recent_words_counts(model):
    """θ = 0: p_cache(w) is the share of w among the next tokens of the `window` positions before."""
    stream = np.array([3, 4, 3, 3, 4, 5, 3, 4], "int32")
    inputs = np.concatenate([[END], stream[:-1]])[None]  # (1, N)
    p_model = np.exp(numpy_log_probs(model, inputs)[0, np.arange(len(stream)), stream])  # (N,)
    # Position t predicts stream[t] from the next tokens of positions t-3 .. t-1: stream[t-3 .. t-1].
    shares = [0, 1 / 2, 2 / 3, 1 / 3, 0, 1 / 3, 1 / 3]
    mixed = [p_model[0]] + [0.5 * p + 0.5 * share for p, share in zip(p_model[1:], shares)]  # t = 0: no cache
    result = NeuralCache(model, window=3, theta=0.0, lambd=0.5, rows=1)(stream)
    np.testing.assert_allclose(result["nll"], -np.mean(np.log(mixed)), rtol=1e-6)


def test_fit_chooses_the_best_of_its_grid_and_lambda_zero_is_the_model(model):
    stream = repetitive_stream(120)
    cache = NeuralCache(model, rows=2).fit(stream, windows=(5, 20), thetas=(0.0, 0.5), lambdas=(0.0, 0.2, 0.5))
    assert len(cache.fit_results) == 12
    best = min(cache.fit_results, key=cache.fit_results.get)
    assert (cache.window, cache.theta, cache.lambd) == best
    assert cache.get_config() == {"window": best[0], "theta": best[1], "lambd": best[2]}
    # λ = 0 is the model alone, whatever the window and θ; the repeated phrase makes a cache pay.
    model_alone = {round(p, 6) for (w, t, lambd), p in cache.fit_results.items() if lambd == 0.0}
    assert len(model_alone) == 1
    assert cache.fit_results[best] < model_alone.pop()
    # fit read the text with its largest window's warm-up; the chosen window scores the same tokens.
    reading = cache.read(stream, warmup=20)
    windows = language_modeling_windows(stream, 2, 100, END, warmup=20)[1]
    assert reading.tokens == len(stream) == int((windows != 0).sum())


@pytest.mark.parametrize("kwargs, argument", [
    ({"window": 0}, "window"), ({"theta": -0.1}, "theta"), ({"lambd": 1.5}, "lambd"), ({"rows": 0}, "rows"),
    ({"step_length": 2.0}, "step_length"),
])
def test_bad_settings_name_the_argument(model, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        NeuralCache(model, **kwargs)


_JAX_SCRIPT = """
import sys
sys.path.insert(0, "tests")
from models.language_modeling.test_cache import test_one_row_matches_the_equations_token_by_token
from models.test_language_model import untrained
test_one_row_matches_the_equations_token_by_token(untrained(tie_weights=True))
print("ok")
"""


def test_the_cache_runs_on_jax_against_the_same_reference():
    pytest.importorskip("jax")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    result = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], cwd=root, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
