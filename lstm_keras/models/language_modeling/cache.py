"""`NeuralCache`: the continuous cache of Grave, Joulin and Usunier (ICLR 2017) over a `LanguageModel`.

A trained language model is read over a text; the hidden vector `h_i` of every position and the
token `x_{i+1}` that followed it are kept for the last `window` positions, and the next token is
predicted by a mixture of the model and that cache:

    p_cache(w | h_t) = Σ_{i=t-window}^{t-1} [x_{i+1} = w] exp(θ h_tᵀ h_i) / Σ_{i=t-window}^{t-1} exp(θ h_tᵀ h_i)
    p(w | h_t)       = (1 - λ) p_model(w | h_t) + λ p_cache(w | h_t)

(eqs. 3 and 4 of the paper; with an empty cache, at the very start of a text, p = p_model). Words
that recur in a text (names, topics) get more probability the more recently and the more
similar the context they appeared in. Nothing is trained: θ, λ and the window are chosen on the
validation text (`NeuralCache.fit`), and the perplexity stays exact (every probability is a
proper mixture of two distributions). The model is read as `PerplexityEvaluator` reads it, in
contiguous rows; every row after the first first reads `window` tokens of the text before its
part, so that both its recurrent state and its cache are full when its scored part starts.
"""

import math

import numpy as np
from keras import ops

from lstm_keras.datasets.language_modeling import language_modeling_windows

# Defaults: the choices `fit` tries (every window up to the largest is read in one pass), the rows a text is read
# in, the time steps per call of the model, and the queries scored together against the cache.
CACHE = {
    "windows": (100, 500, 2000),
    "thetas": (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0),
    "lambdas": tuple(np.round(np.arange(0.0, 0.61, 0.025), 3)),
    "rows": 32,
    "step_length": 100,
    "block": 128,
}


class CacheReading:
    """What a language model read over a text, row by row: `NeuralCache.read`'s result.

    Attributes:
        features: float32 `(rows, T, d)`, the last recurrent layer's output at every position
            (the `h_i` the cache compares).
        next_ids: int32 `(rows, T)`, the token that followed every position (`x_{i+1}`).
        scored: bool `(rows, T)`, the positions whose next token is scored (each token of the
            text exactly once); the others are a row's warm-up context, or padding at its end.
        log_probs: float32 `(rows, T)`, the model's log-probability of `next_ids`.
    """

    def __init__(self, features, next_ids, scored, log_probs):
        self.features = features
        self.next_ids = next_ids
        self.scored = scored
        self.log_probs = log_probs

    @property
    def tokens(self):
        """The number of scored tokens."""
        return int(self.scored.sum())

    def cache_probabilities(self, windows, thetas, block=CACHE["block"]):
        """`p_cache(x_{t+1} | h_t)` at every scored position, for every window and θ.

        Returns:
            float64 `(len(windows), len(thetas), tokens)`, NaN where the cache is empty (a
            text's first position).
        """
        windows, thetas = list(windows), np.asarray(thetas, "float64")
        largest = max(windows)
        out = np.full((len(windows), len(thetas), self.tokens), np.nan)
        written = 0
        distances = np.arange(1, largest + 1)  # (W,): query t reads key t - d
        for row in range(self.features.shape[0]):
            features = self.features[row]  # (T, d)
            next_ids = self.next_ids[row]  # (T,)
            positions = np.flatnonzero(self.scored[row])  # the scored positions, in order
            for start in range(0, len(positions), block):
                queries = positions[start:start + block]  # (b,)
                first = max(0, queries[0] - largest)  # the first key any of them reads
                keys_end = max(queries[-1], first + 1)
                scores = features[queries] @ features[first:keys_end].T  # (b, K): h_tᵀ h_i for keys first..
                keys = queries[:, None] - distances[None, :]  # (b, W): the key at each distance
                valid = keys >= 0  # (b, W)
                by_distance = np.take_along_axis(scores, np.clip(keys - first, 0, keys_end - first - 1),
                                                 axis=1).astype("float64")  # (b, W)
                peak = np.max(np.where(valid, by_distance, -np.inf), axis=1, keepdims=True)  # (b, 1)
                gaps = np.where(valid, by_distance - peak, 0.0)  # (b, W), <= 0 where valid
                matches = valid & (next_ids[np.clip(keys, 0, None)] == next_ids[queries][:, None])  # (b, W)
                for k, theta in enumerate(thetas):
                    weights = np.where(valid, np.exp(theta * gaps), 0.0)  # (b, W)
                    # Summed over the nearest 1, 2, .., W keys: column w - 1 is the window w.
                    total = np.cumsum(weights, axis=1)  # (b, W)
                    hits = np.cumsum(np.where(matches, weights, 0.0), axis=1)  # (b, W)
                    for j, window in enumerate(windows):
                        with np.errstate(invalid="ignore", divide="ignore"):
                            out[j, k, written:written + len(queries)] = hits[:, window - 1] / total[:, window - 1]
                written += len(queries)
        return out


class NeuralCache:
    """The continuous cache of Grave et al. (2017) over a trained `LanguageModel` (see the module docstring).

    Args:
        model: a `LanguageModel` (its current weights are read; any batch size).
        window: the positions kept in the cache (the `window` of the equations).
        theta: θ, the sharpness of the cache's attention (a float >= 0).
        lambd: λ, the cache's share of the mixture, in [0, 1].
        rows: the rows a text is read in (`PerplexityEvaluator`'s layout; more rows run faster
            and read `window` more tokens each).
        step_length: the time steps of one call of the model.

    Call arguments:
        stream: 1-D int ids of a text.

    Returns:
        A dict: `perplexity` (with the cache), `model_perplexity` (the model alone, the same
        reading), `nll` (nats per token, with the cache) and `tokens`.

    Example:
    >>> import numpy as np
    >>> from lstm_keras.models import LanguageModel
    >>> model = LanguageModel(30, embedding_dim=8, units=8)
    >>> cache = NeuralCache(model, window=20, theta=0.5, lambd=0.2, rows=2)
    >>> result = cache(np.tile(np.arange(3, 13), 6))  # a text that repeats: the cache helps
    >>> result["perplexity"] < result["model_perplexity"]
    True
    """

    def __init__(self, model, window=500, theta=0.3, lambd=0.1, rows=CACHE["rows"],
                 step_length=CACHE["step_length"]):
        _check_settings(window, theta, lambd)
        for name, value in (("rows", rows), ("step_length", step_length)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Invalid value for argument `{name}`: expected a positive int. Received: {value!r}")
        self.model = model
        self.window, self.theta, self.lambd = int(window), float(theta), float(lambd)
        self.rows = rows
        self.step_length = step_length

    def read(self, stream, warmup=None):
        """Reads `stream` with the model: a `CacheReading` (`warmup` tokens before each row; default `window`)."""
        stream = np.asarray(stream, "int32")
        if stream.ndim != 1 or len(stream) < 2:
            raise ValueError(f"NeuralCache: the token stream must be 1-D with at least 2 tokens; shape {stream.shape}")
        model = self.model
        warmup = self.window if warmup is None else warmup
        rows = max(1, min(self.rows, len(stream) // max(warmup, 1)))  # no row whose warm-up outweighs its part
        inputs, targets = language_modeling_windows(stream, rows, self.step_length, model.end_token_id,
                                                    model.pad_token_id, warmup=warmup)
        inputs = np.concatenate(list(inputs), axis=1)  # (rows, T): the windows one after another
        targets = np.concatenate(list(targets), axis=1)  # (rows, T)
        scored = targets != model.pad_token_id  # (rows, T)
        # A warm-up position's next token is the row's next input (its target is padding: not scored).
        following = np.concatenate([inputs[:, 1:], np.full_like(inputs[:, :1], model.pad_token_id)], axis=1)
        next_ids = np.where(scored, targets, following)  # (rows, T)
        features, log_probs, state = [], [], None
        for start in range(0, inputs.shape[1], self.step_length):
            step_ids = inputs[:, start:start + self.step_length]  # (rows, S)
            outputs, state = model.encode(step_ids, state)  # (rows, S, d)
            chosen = ops.take_along_axis(model.log_probabilities(outputs),  # (rows, S, V) -> (rows, S)
                                         ops.expand_dims(next_ids[:, start:start + self.step_length], -1),
                                         axis=-1)[..., 0]  # (rows, S)
            features.append(ops.convert_to_numpy(ops.cast(outputs, "float32")))
            log_probs.append(ops.convert_to_numpy(chosen))
        return CacheReading(np.concatenate(features, axis=1), next_ids.astype("int32"), scored,
                            np.concatenate(log_probs, axis=1))

    def fit(self, stream, windows=CACHE["windows"], thetas=CACHE["thetas"], lambdas=CACHE["lambdas"]):
        """Chooses the window, θ and λ of the lowest perplexity on `stream` (the validation text); returns self.

        Every combination is scored on one reading of the text (the largest window's warm-up).
        The choices are kept as `window`, `theta` and `lambd`; `fit_results` holds the
        perplexity of each `(window, theta, lambd)` tried.
        """
        for window in windows:
            _check_settings(window, min(thetas), min(lambdas))
        reading = self.read(stream, warmup=max(windows))
        cached = reading.cache_probabilities(windows, thetas)  # (windows, thetas, tokens)
        model_probs = np.exp(reading.log_probs[reading.scored].astype("float64"))  # (tokens,)
        self.fit_results = {}
        for j, window in enumerate(windows):
            for k, theta in enumerate(thetas):
                for lambd in lambdas:
                    self.fit_results[(window, float(theta), float(lambd))] = math.exp(
                        _mixture_nll(model_probs, cached[j, k], lambd))
        self.window, self.theta, self.lambd = min(self.fit_results, key=self.fit_results.get)
        return self

    def __call__(self, stream):
        reading = self.read(stream)
        cached = reading.cache_probabilities([self.window], [self.theta])[0, 0]  # (tokens,)
        model_probs = np.exp(reading.log_probs[reading.scored].astype("float64"))  # (tokens,)
        nll = _mixture_nll(model_probs, cached, self.lambd)
        return {"perplexity": math.exp(nll), "model_perplexity": math.exp(_mixture_nll(model_probs, cached, 0.0)),
                "nll": nll, "tokens": reading.tokens}

    def get_config(self):
        """The settings (`window`, `theta`, `lambd`), e.g. for a metrics file."""
        return {"window": self.window, "theta": self.theta, "lambd": self.lambd}


def _mixture_nll(model_probs, cache_probs, lambd):
    """The mean NLL of `(1 - λ) p_model + λ p_cache`, the model alone where the cache is empty (NaN)."""
    mixed = np.where(np.isnan(cache_probs), model_probs, (1.0 - lambd) * model_probs + lambd * np.nan_to_num(cache_probs))
    return float(-np.mean(np.log(mixed)))


def _check_settings(window, theta, lambd):
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"Invalid value for argument `window`: expected a positive int. Received: window={window!r}")
    if not theta >= 0:
        raise ValueError(f"Invalid value for argument `theta`: expected a number >= 0. Received: theta={theta!r}")
    if not 0 <= lambd <= 1:
        raise ValueError(f"Invalid value for argument `lambd`: expected a number in [0, 1]. Received: lambd={lambd!r}")
