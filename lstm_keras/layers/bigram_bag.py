"""`BigramBag`: the mean embedding of a text's hashed word bigrams, fastText-style (Joulin et al. 2017)."""

import keras
from keras import ops

# The multiplier of the bigram hash: a prime, so that (a, b) and (b, a) land apart.
HASH_PRIME = 10007
# The most buckets for which the hash stays exact in int32: (buckets - 1)**2 + buckets - 1 < 2**31.
MAX_BUCKETS = 46340


@keras.saving.register_keras_serializable(package="lstm_keras")
class BigramBag(keras.layers.Layer):
    """The mean of learned vectors of a text's word bigrams, hashed into buckets from the token ids.

    "Bag of Tricks for Efficient Text Classification" (Joulin et al. 2017) shows that a bag of
    word n-grams, each a learned vector, averaged, is a strong text classifier; beside an LSTM it
    adds the local word order a bag of words lacks, cheaply. A bigram of the ids `(a, b)` (both
    non-padding) goes to the bucket

        h(a, b) = ((a mod B) * (P mod B) + (b mod B)) mod B  =  (a P + b) mod B,
        P = HASH_PRIME, B = buckets,

    computed in int32 without overflow (`B <= MAX_BUCKETS`), from the ids alone, so the layer
    runs wherever the model's numbers do (LiteRT, ONNX). The output is the mean of the bucket
    vectors of the text's bigrams, zeros for a text of fewer than two tokens. Distinct bigrams
    may share a bucket (the hashing trick); more buckets, fewer collisions.

    Args:
        buckets: the number of hash buckets, in [1, MAX_BUCKETS].
        output_dim: the size of each bucket's vector.
        embeddings_initializer: the initializer of the `(buckets, output_dim)` table.

    Call arguments:
        token_ids: int `(batch, T)`, 0 for padding (padding only after the tokens).

    Returns:
        `(batch, output_dim)`.

    Example:
    >>> import numpy as np
    >>> bag = BigramBag(buckets=64, output_dim=3)
    >>> tuple(bag(np.array([[5, 6, 7, 0], [5, 0, 0, 0]])).shape)
    (2, 3)
    """

    def __init__(self, buckets, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(
                f"Invalid value for argument `buckets` of BigramBag: expected an int in [1, {MAX_BUCKETS}]. "
                f"Received: buckets={buckets!r}"
            )
        self.buckets = int(buckets)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.buckets, self.output_dim), initializer=self.embeddings_initializer, name="embeddings"
        )

    def bucket_ids(self, token_ids):
        """The bucket of each bigram `(token_ids[:, t], token_ids[:, t + 1])`, `(batch, T - 1)`, and its validity."""
        token_ids = ops.cast(token_ids, "int32")
        first, second = token_ids[:, :-1], token_ids[:, 1:]  # (batch, T - 1) each
        # Each term below B, so the sum stays under B**2 <= 2**31: no int32 overflow for any id.
        buckets = ops.mod(
            ops.mod(first, self.buckets) * (HASH_PRIME % self.buckets) + ops.mod(second, self.buckets), self.buckets
        )
        valid = ops.logical_and(ops.not_equal(first, 0), ops.not_equal(second, 0))  # (batch, T - 1)
        return buckets, valid

    def call(self, token_ids):
        buckets, valid = self.bucket_ids(token_ids)  # (batch, T - 1)
        vectors = ops.take(self.embeddings, buckets, axis=0)  # (batch, T - 1, output_dim)
        weights = ops.cast(valid, vectors.dtype)[..., None]  # (batch, T - 1, 1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # (batch, 1)
        return ops.sum(vectors * weights, axis=1) / count  # (batch, output_dim)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "buckets": self.buckets,
            "output_dim": self.output_dim,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
