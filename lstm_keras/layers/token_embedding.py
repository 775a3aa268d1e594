"""`TokenEmbedding`: a token embedding that also computes the softmax logits, tied or not."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lstm_keras")
class TokenEmbedding(keras.layers.Layer):
    """Token embedding and output (softmax) layer of a language model, with optional weight tying.

    Called forwards it looks up token ids; called with `reverse=True` it maps hidden vectors to
    logits over the vocabulary:

        embed(ids)          = E[ids]                          E: (vocabulary_size, embedding_dim)
        logits(h, reverse)  = h W + b,  W = E^T if tie_weights else its own (hidden_dim, V)

    Tying (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"; Inan et
    al. 2017) uses the embedding matrix as the output matrix, saving `V * embedding_dim`
    parameters and usually lowering perplexity; the hidden vectors must then have
    `embedding_dim` features (untied, they have `hidden_dim`). Like `keras.layers.ReversibleEmbedding`, but with an output bias
    `b` (the unigram log-frequencies are easy to learn there), which `use_output_bias` controls.

    Args:
        vocabulary_size: the number of token ids.
        embedding_dim: the size of the embeddings.
        tie_weights: whether the output matrix is the transposed embedding matrix.
        hidden_dim: the size of the vectors turned into logits (None: `embedding_dim`, which
            it must be when `tie_weights`).
        use_output_bias: whether the logits get a learned bias `(vocabulary_size,)`.
        embeddings_initializer: the initializer of `E` (and of `W` when untied).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: int ids of any shape (forwards), or hidden vectors `(..., hidden_dim)` with
            `reverse=True`.
        reverse: whether to compute logits instead of embeddings.

    Returns:
        `(..., embedding_dim)` embeddings, or `(..., vocabulary_size)` logits with `reverse=True`.

    Example:
    >>> layer = TokenEmbedding(10, 4, tie_weights=True)
    >>> vectors = layer(keras.ops.array([[1, 2, 3]]))
    >>> tuple(vectors.shape), tuple(layer(vectors, reverse=True).shape)
    ((1, 3, 4), (1, 3, 10))
    >>> [w.name for w in layer.weights]
    ['embeddings', 'output_bias']
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        tie_weights=False,
        hidden_dim=None,
        use_output_bias=True,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        hidden_dim = embedding_dim if hidden_dim is None else hidden_dim
        for name, value in (
            ("vocabulary_size", vocabulary_size), ("embedding_dim", embedding_dim), ("hidden_dim", hidden_dim)
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"Invalid value for argument `{name}` of TokenEmbedding: expected a positive int. "
                    f"Received: {name}={value!r}"
                )
        if tie_weights and hidden_dim != embedding_dim:
            raise ValueError(
                f"Invalid value for argument `hidden_dim` of TokenEmbedding: tied weights need hidden_dim == "
                f"embedding_dim ({embedding_dim}). Received: hidden_dim={hidden_dim!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.tie_weights = bool(tie_weights)
        self.use_output_bias = bool(use_output_bias)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size, self.embedding_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        if not self.tie_weights:
            self.output_kernel = self.add_weight(
                shape=(self.hidden_dim, self.vocabulary_size),
                initializer=self.embeddings_initializer,
                name="output_kernel",
            )
        if self.use_output_bias:
            self.output_bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="output_bias")
        self.built = True

    def call(self, inputs, reverse=False):
        if not reverse:
            return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)  # (..., embedding_dim)
        kernel = ops.transpose(self.embeddings) if self.tie_weights else self.output_kernel  # (hidden_dim, V)
        logits = ops.matmul(inputs, ops.cast(kernel, inputs.dtype))  # (..., V)
        if self.use_output_bias:
            logits = logits + ops.cast(self.output_bias, logits.dtype)
        return logits

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return tuple(input_shape[:-1]) + (self.vocabulary_size,)
        return tuple(input_shape) + (self.embedding_dim,)

    def compute_output_spec(self, inputs, reverse=False):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        config = {
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "tie_weights": self.tie_weights,
            "hidden_dim": self.hidden_dim,
            "use_output_bias": self.use_output_bias,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
        return {**super().get_config(), **config}
