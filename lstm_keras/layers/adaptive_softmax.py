"""`AdaptiveSoftmax`: exact log-probabilities over a frequency-sorted vocabulary, cheap for its rare words."""

import keras
import numpy as np
from keras import ops

from lstm_keras.layers.masking import MASKED_VALUE

# The default cutoffs: 2000, then 5 times the previous one (2000, 10000, 50000, 250000, ...).
DEFAULT_FIRST_CUTOFF = 2000
DEFAULT_CUTOFF_GROWTH = 5
# The smallest vocabulary the default cutoffs split (its one tail cluster holds half as many words as the head).
MIN_DEFAULT_VOCABULARY = DEFAULT_FIRST_CUTOFF * 3 // 2


def default_cutoffs(vocabulary_size):
    """The cutoffs of an adaptive softmax over `vocabulary_size` frequency-sorted words.

    The rule: the cutoffs 2000, 10000, 50000, 250000, ... (each 5 times the previous one) that
    are below `vocabulary_size`; then, when the last tail cluster `[c_n, V)` would hold fewer
    than half as many words as the cluster before it (`[c_{n-1}, c_n)`, or the head `[0, c_1)`
    when n = 1), `c_n` is dropped and its words join the previous cluster. A vocabulary of
    fewer than 3000 words thus gets no cutoff, and a ValueError: a full softmax is as cheap.

    Example:
    >>> default_cutoffs(10000), default_cutoffs(33278), default_cutoffs(12000)
    ([2000], [2000, 10000], [2000])
    """
    _check_vocabulary_size(vocabulary_size)
    cutoffs = []
    cutoff = DEFAULT_FIRST_CUTOFF
    while cutoff < vocabulary_size:
        cutoffs.append(cutoff)
        cutoff *= DEFAULT_CUTOFF_GROWTH
    if cutoffs:
        previous = cutoffs[-1] - (cutoffs[-2] if len(cutoffs) > 1 else 0)  # words of the cluster before the last
        if vocabulary_size - cutoffs[-1] < previous / 2:
            cutoffs.pop()
    if not cutoffs:
        raise ValueError(
            f"Invalid value for argument `vocabulary_size`: a vocabulary of {vocabulary_size} words is too small "
            f"for an adaptive softmax with the default cutoffs (it needs at least "
            f"{MIN_DEFAULT_VOCABULARY} words); use a full softmax, or pass explicit `cutoffs`."
        )
    return cutoffs


def check_cutoffs(cutoffs, vocabulary_size):
    """Checks cutoffs `0 < c_1 < ... < c_n < vocabulary_size` (n >= 1) and returns them as a list of ints.

    Example:
    >>> check_cutoffs((10, 30), 50)
    [10, 30]
    """
    _check_vocabulary_size(vocabulary_size)
    allowed = f"a non-empty list of strictly increasing ints, each > 0 and < vocabulary_size ({vocabulary_size})"
    if cutoffs is None or isinstance(cutoffs, (str, bytes)) or not hasattr(cutoffs, "__iter__"):
        raise ValueError(f"Invalid value for argument `cutoffs`: expected {allowed}. Received: cutoffs={cutoffs!r}")
    values = list(cutoffs)
    if (
        not values
        or not all(_is_int(c) for c in values)
        or values[0] <= 0
        or values[-1] >= vocabulary_size
        or any(a >= b for a, b in zip(values, values[1:]))
    ):
        raise ValueError(f"Invalid value for argument `cutoffs`: expected {allowed}. Received: cutoffs={cutoffs!r}")
    return [int(c) for c in values]


def _check_vocabulary_size(vocabulary_size):
    if not _is_int(vocabulary_size) or vocabulary_size < 2:
        raise ValueError(
            f"Invalid value for argument `vocabulary_size`: expected an int >= 2. "
            f"Received: vocabulary_size={vocabulary_size!r}"
        )


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@keras.saving.register_keras_serializable(package="lstm_keras")
class AdaptiveSoftmax(keras.layers.Layer):
    """Adaptive softmax: exact log-probabilities of a frequency-sorted vocabulary, cheap where words are rare.

    Grave et al. 2017, "Efficient softmax approximation for GPUs" (arXiv 1609.04309). The word
    ids are sorted by decreasing frequency; cutoffs `c_1 < ... < c_n < V` split them into a head
    `[0, c_1)` and tail clusters `[c_i, c_{i+1})` (`c_{n+1} = V`, `V_i = c_{i+1} - c_i` words).
    The head scores its words and one entry per cluster; cluster i scores its words from a
    hidden vector projected to `d_i = max(1, round(d / div_value**i))` features (`d`: the hidden
    size), so rare words cost less:

        head(h)   = h W_head + b_head                          (..., c_1 + n)
        tail_i(h) = (h P_i) W_i + b_i                          (..., V_i)
        log p(w)  = log_softmax(head(h))[w]                    w < c_1
        log p(w)  = log_softmax(head(h))[c_1 + i - 1]          c_i <= w < c_{i+1}
                    + log_softmax(tail_i(h))[w - c_i]

    These are exact log-probabilities: `exp(log p)` sums to 1 over the vocabulary. With
    `tie_weights`, the word vectors are rows of an embedding matrix `E (V, d)` given at call time:
    `W_head = [E[:c_1]^T, K]` (the cluster columns `K (d, n)` stay the layer's own) and
    `W_i = (E[c_i:c_{i+1}] Q_i)^T` with a projection `Q_i (d, d_i)` of the layer. `excluded_ids`
    (head ids the model never predicts, e.g. padding and start) get `MASKED_VALUE` added to their
    head logit: probability 0.

    `nll` is the training loss: it computes the head everywhere but a cluster only where it is
    needed. On TensorFlow and torch it gathers the positions whose target is in cluster i,
    scores only those and scatters the result back; on JAX (static shapes under `jit`), and on
    TensorFlow under XLA (`jit_compile=True`), it scores every cluster at every position and
    selects. The two give the same numbers.

    Args:
        vocabulary_size: the number of word ids `V`, sorted by decreasing frequency.
        cutoffs: the start ids `c_1 < ... < c_n` of the tail clusters (None: `default_cutoffs`).
        div_value: the factor (>= 1) by which each cluster's projection shrinks the hidden size.
        tie_weights: whether the word vectors are the rows of the `embeddings` given at call time.
        excluded_ids: head ids (< `c_1`) that get probability 0.
        kernel_initializer: the initializer of the kernels and projections.
        bias_initializer: the initializer of the biases.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        hidden: hidden vectors `(..., d)`.
        embeddings: the embedding matrix `(V, d)` when `tie_weights` (None otherwise).

    Returns:
        float32 log-probabilities `(..., V)` of every word (`log_prob` is the same). `nll(hidden,
        targets, embeddings=None)` returns the float32 negative log-likelihoods `(...)` of the int
        `targets` `(...)` in `[0, V)`: positions to ignore (padding) may hold any of them and are
        masked by the caller (an excluded id costs about 1e9, with a finite gradient).

    Example:
    >>> layer = AdaptiveSoftmax(50, cutoffs=[10, 30], excluded_ids=[0])
    >>> hidden = keras.random.normal((2, 3, 8), seed=0)
    >>> log_probs = layer(hidden)
    >>> tuple(log_probs.shape), tuple(layer.nll(hidden, ops.ones((2, 3), "int32")).shape)
    ((2, 3, 50), (2, 3))
    >>> bool(ops.all(ops.abs(ops.sum(ops.exp(log_probs), axis=-1) - 1.0) < 1e-5))
    True
    >>> layer.projection_sizes, [w.name for w in layer.weights][:4]
    ([2, 1], ['head_kernel', 'cluster_kernel', 'head_bias', 'tail_1_projection'])
    """

    def __init__(
        self,
        vocabulary_size,
        cutoffs=None,
        div_value=4.0,
        tie_weights=False,
        excluded_ids=(),
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_vocabulary_size(vocabulary_size)
        cutoffs = default_cutoffs(vocabulary_size) if cutoffs is None else check_cutoffs(cutoffs, vocabulary_size)
        if isinstance(div_value, bool) or not isinstance(div_value, (int, float)) or not div_value >= 1:
            raise ValueError(
                f"Invalid value for argument `div_value`: expected a number >= 1. Received: div_value={div_value!r}"
            )
        excluded_ids = () if excluded_ids is None else excluded_ids
        excluded = sorted({int(i) for i in excluded_ids}) if all(_is_int(i) for i in excluded_ids) else None
        if excluded is None or any(i < 0 or i >= cutoffs[0] for i in excluded):
            raise ValueError(
                f"Invalid value for argument `excluded_ids`: expected head ids, ints in [0, {cutoffs[0]}) "
                f"(below the first cutoff). Received: excluded_ids={excluded_ids!r}"
            )
        self.vocabulary_size = int(vocabulary_size)
        self.cutoffs = cutoffs
        self.div_value = float(div_value)
        self.tie_weights = bool(tie_weights)
        self.excluded_ids = excluded
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # The tail clusters as (start, end) id ranges.
        bounds = cutoffs + [self.vocabulary_size]
        self.clusters = list(zip(bounds[:-1], bounds[1:]))
        self.head_size = cutoffs[0] + len(self.clusters)
        # Added to the head logits: MASKED_VALUE at the excluded ids, 0 elsewhere.
        self._exclusion = np.zeros((self.head_size,), "float32")
        self._exclusion[excluded] = MASKED_VALUE
        self.hidden_dim = None
        self.projection_sizes = None

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim is None:
            raise ValueError(f"AdaptiveSoftmax needs a known hidden size; received an input of shape {input_shape}.")
        self.hidden_dim = int(hidden_dim)
        self.projection_sizes = [
            max(1, int(round(self.hidden_dim / self.div_value**i))) for i in range(1, len(self.clusters) + 1)
        ]
        if not self.tie_weights:
            self.head_kernel = self._kernel((self.hidden_dim, self.cutoffs[0]), "head_kernel")
        self.cluster_kernel = self._kernel((self.hidden_dim, len(self.clusters)), "cluster_kernel")
        self.head_bias = self._bias((self.head_size,), "head_bias")
        self.tail_projections, self.tail_kernels, self.tail_biases = [], [], []
        for i, ((start, end), size) in enumerate(zip(self.clusters, self.projection_sizes), start=1):
            self.tail_projections.append(self._kernel((self.hidden_dim, size), f"tail_{i}_projection"))
            if self.tie_weights:
                # Q_i: projects the cluster's embeddings to its reduced size.
                self.tail_kernels.append(self._kernel((self.hidden_dim, size), f"tail_{i}_embedding_projection"))
            else:
                self.tail_kernels.append(self._kernel((size, end - start), f"tail_{i}_kernel"))
            self.tail_biases.append(self._bias((end - start,), f"tail_{i}_bias"))
        self.built = True

    def _kernel(self, shape, name):
        return self.add_weight(shape=shape, initializer=self.kernel_initializer, name=name)

    def _bias(self, shape, name):
        return self.add_weight(shape=shape, initializer=self.bias_initializer, name=name)

    def call(self, hidden, embeddings=None):
        embeddings = self._check_embeddings(embeddings, hidden)
        head = self._head_log_probs(hidden, embeddings)  # (..., c_1 + n)
        parts = [head[..., : self.cutoffs[0]]]  # (..., c_1)
        for i in range(len(self.clusters)):
            cluster = self.cutoffs[0] + i
            tail = ops.log_softmax(self._tail_logits(hidden, i, embeddings), axis=-1)  # (..., V_i)
            parts.append(head[..., cluster:cluster + 1] + tail)  # (..., V_i)
        return ops.concatenate(parts, axis=-1)  # (..., V)

    def log_prob(self, hidden, embeddings=None):
        """The float32 log-probabilities `(..., V)` of every word: the same as calling the layer."""
        return self(hidden, embeddings=embeddings)

    def nll(self, hidden, targets, embeddings=None):
        """The float32 negative log-likelihoods `(...)` of the int `targets` `(...)`, each in `[0, V)`."""
        gather = keras.backend.backend() in ("tensorflow", "torch") and not _in_xla_context()
        return self._nll(hidden, targets, embeddings, gather=gather)

    def _nll(self, hidden, targets, embeddings, gather):
        # Not through __call__: build and cast as __call__ would.
        hidden = ops.convert_to_tensor(hidden)
        if not self.built:
            self.build(tuple(hidden.shape))
        hidden = ops.cast(hidden, self.compute_dtype)
        embeddings = self._check_embeddings(embeddings, hidden)
        if embeddings is not None:
            embeddings = ops.cast(embeddings, self.compute_dtype)
        targets = ops.convert_to_tensor(targets)
        target_shape = ops.shape(targets)
        hidden = ops.reshape(hidden, (-1, self.hidden_dim))  # (N, d)
        targets = ops.reshape(ops.cast(targets, "int32"), (-1,))  # (N,)

        # The head: a word's own entry, or its cluster's entry.
        head = self._head_log_probs(hidden, embeddings)  # (N, c_1 + n)
        cluster = ops.zeros_like(targets)  # (N,): 0 in the head, i in tail cluster i
        for start in self.cutoffs:
            cluster = cluster + ops.cast(targets >= start, "int32")
        head_index = ops.where(cluster == 0, targets, self.cutoffs[0] + cluster - 1)  # (N,)
        log_probs = ops.take_along_axis(head, head_index[:, None], axis=1)[:, 0]  # (N,)

        # The tails: log p(w | cluster i) where the target is in cluster i.
        for i, (start, end) in enumerate(self.clusters):
            in_cluster = cluster == i + 1  # (N,)
            if gather:
                rows = ops.nonzero(in_cluster)[0]  # (M,)
                logits = self._tail_logits(ops.take(hidden, rows, axis=0), i, embeddings)  # (M, V_i)
                local = ops.take(targets, rows, axis=0) - start  # (M,)
                word = ops.take_along_axis(ops.log_softmax(logits, axis=-1), local[:, None], axis=1)[:, 0]  # (M,)
                log_probs = log_probs + ops.scatter(rows[:, None], word, ops.shape(targets))  # (N,)
            else:
                logits = self._tail_logits(hidden, i, embeddings)  # (N, V_i)
                local = ops.clip(targets - start, 0, end - start - 1)  # (N,)
                word = ops.take_along_axis(ops.log_softmax(logits, axis=-1), local[:, None], axis=1)[:, 0]  # (N,)
                log_probs = log_probs + ops.where(in_cluster, word, 0.0)  # (N,)
        return ops.reshape(-log_probs, target_shape)  # (...)

    def _check_embeddings(self, embeddings, hidden):
        if not self.tie_weights:
            if embeddings is not None:
                raise ValueError("AdaptiveSoftmax got `embeddings`, but they are used only with tie_weights=True.")
            return None
        if embeddings is None:
            raise ValueError("AdaptiveSoftmax with tie_weights=True needs the `embeddings` matrix (V, d) at call time.")
        embeddings = ops.convert_to_tensor(embeddings)
        expected = (self.vocabulary_size, hidden.shape[-1])
        if len(embeddings.shape) != 2 or any(a is not None and b is not None and a != b
                                             for a, b in zip(embeddings.shape, expected)):
            raise ValueError(
                f"AdaptiveSoftmax with tie_weights=True needs `embeddings` of shape (vocabulary_size, hidden size) "
                f"= {expected}. Received: embeddings of shape {tuple(embeddings.shape)}"
            )
        return embeddings

    def _head_log_probs(self, hidden, embeddings):
        """log_softmax(h W_head + b_head) in float32, excluded ids masked: `(..., c_1 + n)`."""
        if self.tie_weights:
            words = ops.transpose(embeddings[: self.cutoffs[0]])  # (d, c_1)
        else:
            words = ops.cast(self.head_kernel, hidden.dtype)  # (d, c_1)
        kernel = ops.concatenate([words, ops.cast(self.cluster_kernel, hidden.dtype)], axis=1)  # (d, c_1 + n)
        logits = ops.cast(ops.matmul(hidden, kernel), "float32") + ops.cast(self.head_bias, "float32")
        if self.excluded_ids:
            logits = logits + ops.convert_to_tensor(self._exclusion)  # (..., c_1 + n)
        return ops.log_softmax(logits, axis=-1)

    def _tail_logits(self, hidden, i, embeddings):
        """The float32 logits `(..., V_i)` of the words of tail cluster i + 1."""
        start, end = self.clusters[i]
        reduced = ops.matmul(hidden, ops.cast(self.tail_projections[i], hidden.dtype))  # (..., d_i)
        if self.tie_weights:
            words = ops.matmul(embeddings[start:end], ops.cast(self.tail_kernels[i], hidden.dtype))  # (V_i, d_i)
            kernel = ops.transpose(words)  # (d_i, V_i)
        else:
            kernel = ops.cast(self.tail_kernels[i], hidden.dtype)  # (d_i, V_i)
        return ops.cast(ops.matmul(reduced, kernel), "float32") + ops.cast(self.tail_biases[i], "float32")

    def compute_output_shape(self, input_shape, embeddings_shape=None):
        return tuple(input_shape[:-1]) + (self.vocabulary_size,)

    def compute_output_spec(self, hidden, embeddings=None):
        return keras.KerasTensor(self.compute_output_shape(hidden.shape), dtype="float32")

    def get_config(self):
        config = {
            "vocabulary_size": self.vocabulary_size,
            "cutoffs": list(self.cutoffs),
            "div_value": self.div_value,
            "tie_weights": self.tie_weights,
            "excluded_ids": list(self.excluded_ids),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


def _in_xla_context():
    """Whether TensorFlow is tracing for XLA (`jit_compile=True`), where row counts must be static."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # A private module: without it, the gather path (which XLA also compiles) is used.
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
