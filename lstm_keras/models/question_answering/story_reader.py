"""`StoryReader`: an LSTM reader that answers a question about a story by attending over its sentences."""

import keras
from keras import ops

from lstm_keras.layers import GatedLSTM
from lstm_keras.layers.attention import check_attention
from lstm_keras.layers.attention import get_attention
from lstm_keras.layers.gating import gating_options


@keras.saving.register_keras_serializable(package="lstm_keras")
class StoryReader(keras.Model):
    """A question-answering reader: sentence LSTM, attention hops over the story, answer softmax.

    A memory network (Sukhbaatar et al. 2015, "End-To-End Memory Networks") whose sentence and
    question encoder is a `GatedLSTM`, and whose attention is a layer of `lstm_keras.layers`.
    With `s_i` the sentence `i` of the story (`i = 1..S`), `q` the question and `LSTM(.)` the
    final state of the shared encoder over a sentence's word embeddings:

        m_i = LSTM(s_i) + T[S_real - i]              (memory; T: a learned embedding of how many
                                                      sentences before the end s_i stands)
        u_0 = LSTM(q)
        a^k = softmax_i(score_k(u_{k-1}, m_i)),  o^k = Σ_i a^k_i m_i     (hop k = 1..hops;
        u_k = u_{k-1} + o^k                                                padding sentences: a = 0)
        p(answer) = softmax(W_o relu(W_h [u_hops; u_0] + b_h) + b_o)

    The position term `T` lets attention prefer the latest sentence about someone ("Mary went to
    the kitchen. ... Mary moved to the garden." -> garden); the second hop lets the reader follow
    a chain (the object -> who took it -> where they went). The score is one of Luong's
    (`"luong-general"`, the default: a bilinear match of question and sentence, `q W m_i`;
    `"luong-dot"`, `"luong-concat"`) or Bahdanau's additive MLP (`"bahdanau"`), a separate
    attention layer per hop. (On the generated stories of `lstm_keras.datasets.stories`, the
    bilinear score learned faster than "luong-dot" and "bahdanau" in our runs.)

    The answer is a word of the vocabulary (logits over all of it); padding (id 0) is masked in
    sentences and question, and an all-padding sentence (after a story's end) gets no attention.
    `compile()` has training defaults (Adam with gradient clipping, sparse cross-entropy from
    logits, accuracy); `attention_weights` returns the weights of every hop for display.

    Args:
        vocabulary_size: the number of word ids (answers included), padding 0 included.
        embedding_dim: the size of the word embeddings.
        units: the units of the sentence LSTM (the size of the memories and the question).
        hops: the number of attention hops (at least 1).
        attention: `"luong-general"`, `"luong-dot"`, `"luong-concat"` or `"bahdanau"`.
        attention_units: the hidden size of the additive / concat scores (default: `units`).
        gating: the gating of the sentence LSTM: None (standard, fused kernel), a preset name of
            `lstm_keras.layers.VARIANTS` or a dict of `GatedLSTM` options.
        max_sentences: the size of the position table `T`: sentences further than
            `max_sentences - 1` from the end share its last row.
        dropout: the dropout rate on the word embeddings and on the answer's hidden layer.
        **kwargs: base model arguments (`name`, ...).

    Inputs:
        `(story_ids, question_ids)`: int tensors `(batch, S, W)` (sentences
        right-padded with 0, stories right-padded with all-0 sentences) and `(batch, Q)`.

    Output:
        The answer logits `(batch, vocabulary_size)`.

    Example:
    >>> import numpy as np
    >>> reader = StoryReader(vocabulary_size=12, embedding_dim=8, units=8, max_sentences=4)
    >>> story = np.array([[[3, 4, 5], [6, 7, 0], [0, 0, 0]], [[8, 9, 0], [0, 0, 0], [0, 0, 0]]])
    >>> question = np.array([[10, 3], [11, 8]])
    >>> tuple(reader((story, question)).shape)
    (2, 12)
    >>> weights = reader.attention_weights(story, question)  # (batch, hops, S)
    >>> weights.shape, weights.sum(axis=-1).round(4).tolist()
    ((2, 2, 3), [[1.0, 1.0], [1.0, 1.0]])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=32,
        units=64,
        hops=2,
        attention="luong-general",
        attention_units=None,
        gating=None,
        max_sentences=20,
        dropout=0.1,
        **kwargs,
    ):
        _check_arguments(attention, hops, max_sentences)

        # === Layers ===
        self.sentence_encoder = _SentenceEncoder(
            vocabulary_size, embedding_dim, units, gating=gating, dropout=dropout, name="sentence_encoder"
        )
        self.position_embedding = keras.layers.Embedding(max_sentences, units, name="position_embedding")
        self.attention_layers = [
            get_attention(attention, attention_units, query_units=units, name=f"attention_{hop}")
            for hop in range(1, hops + 1)
        ]
        self.answer_hidden = keras.layers.Dense(units, activation="relu", name="answer_hidden")
        self.answer_dropout = keras.layers.Dropout(dropout, name="answer_dropout")
        self.answer_logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="answer_logits")

        # === Functional model ===
        story_ids = keras.Input(shape=(None, None), dtype="int32", name="story_ids")
        question_ids = keras.Input(shape=(None,), dtype="int32", name="question_ids")
        sentence_mask = ops.any(ops.not_equal(story_ids, 0), axis=-1)  # (batch, S)
        memory = self.sentence_encoder(story_ids)  # (batch, S, units)
        positions = ops.minimum(_positions_from_end(sentence_mask), max_sentences - 1)  # (batch, S)
        memory = memory + self.position_embedding(positions)  # (batch, S, units)
        question = self.sentence_encoder(ops.expand_dims(question_ids, 1))[:, 0]  # (batch, units)
        query = question
        weights = []
        for layer in self.attention_layers:
            context, hop_weights = layer(
                query, memory, mask=sentence_mask, return_attention_scores=True
            )  # (batch, units), (batch, S)
            query = query + context  # (batch, units)
            weights.append(hop_weights)
        hidden = self.answer_hidden(ops.concatenate([query, question], axis=-1))  # (batch, units)
        logits = self.answer_logits(self.answer_dropout(hidden))  # (batch, vocabulary_size)
        super().__init__(inputs=(story_ids, question_ids), outputs=logits, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.hops = hops
        self.attention = attention
        self.attention_units = attention_units
        self.gating = gating
        self.max_sentences = max_sentences
        self.dropout = dropout
        # A symbolic tensor for `attention_weights` (not a layer: nothing to track or save).
        self._attention_output = ops.stack(weights, axis=1)  # (batch, hops, S)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", learning_rate=3e-3, clipnorm=1.0, **kwargs):
        """Compiles with the reader's defaults (each `"auto"` argument).

        Args:
            optimizer: `"auto"` for Adam with `learning_rate` and `clipnorm`, or any optimizer.
            loss: `"auto"` for sparse categorical cross-entropy from logits (integer answer ids).
            metrics: `"auto"` for `["accuracy"]`.
            learning_rate: the learning rate of the default optimizer.
            clipnorm: the gradient clipping norm of the default optimizer (None: no clipping).
            **kwargs: other `keras.Model.compile` arguments.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # Restores the compiled state saved in a `.keras` file (`compile` is overridden).
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def attention_weights(self, story_ids, question_ids):
        """The attention weights of every hop, for display.

        Args:
            story_ids: int `(batch, S, W)`.
            question_ids: int `(batch, Q)`.

        Returns:
            A NumPy array `(batch, hops, S)`: each hop's weights over the sentences, which sum
            to 1 over a story's real sentences and are 0 at the padding sentences.
        """
        explainer = keras.Model(self.inputs, self._attention_output)
        return ops.convert_to_numpy(explainer((story_ids, question_ids), training=False))

    def get_config(self):
        # Not chained to super(): a functional model's config is a graph, not constructor arguments.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "hops": self.hops,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "gating": self.gating,
            "max_sentences": self.max_sentences,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="lstm_keras")
class _SentenceEncoder(keras.layers.Layer):
    """`StoryReader`'s encoder: word embeddings and a `GatedLSTM` over every sentence of a story.

    Args:
        vocabulary_size: the number of word ids, padding 0 included.
        embedding_dim: the size of the word embeddings.
        units: the LSTM units.
        gating: None, a preset name of `lstm_keras.layers.VARIANTS` or a dict of `GatedLSTM` options.
        dropout: the dropout rate on the word embeddings.
        **kwargs: base layer arguments.

    Call arguments:
        ids: int `(batch, S, W)`, sentences right-padded with 0.
        training: whether dropout is active.

    Returns:
        The final LSTM state of each sentence, `(batch, S, units)`.
    """

    def __init__(self, vocabulary_size, embedding_dim, units, gating=None, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.gating = gating
        self.dropout = dropout
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.lstm = GatedLSTM(units, name="lstm", **gating_options(gating))

    def build(self, ids_shape):
        self.embedding.build((None, None))
        self.lstm.build((None, None, self.embedding_dim))

    def call(self, ids, training=False):
        shape = ops.shape(ids)  # (batch, S, W)
        flat = ops.reshape(ids, (-1, shape[2]))  # (batch * S, W)
        # Every sentence reads at least its first position (padding, for the sentences after a
        # story's end): a zero-length sequence is an error for the fused cuDNN kernel. Those
        # sentences get no attention, so what the encoder makes of them never matters.
        first = ops.expand_dims(ops.equal(ops.arange(shape[2]), 0), 0)  # (1, W)
        mask = ops.logical_or(ops.not_equal(flat, 0), first)  # (batch * S, W)
        x = self.embedding_dropout(self.embedding(flat), training=training)  # (batch * S, W, embedding_dim)
        encoded = self.lstm(x, mask=mask, training=training)  # (batch * S, units)
        return ops.reshape(encoded, (shape[0], shape[1], self.units))  # (batch, S, units)

    def compute_output_shape(self, ids_shape):
        return (*ids_shape[:2], self.units)

    def get_config(self):
        config = {
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "gating": self.gating,
            "dropout": self.dropout,
        }
        return {**super().get_config(), **config}


def _positions_from_end(sentence_mask):
    """How many real sentences follow each sentence: `(batch, S)` int32 (0 for the last and the padding).

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(_positions_from_end(np.array([[True, True, True, False]]))).tolist()
    [[2, 1, 0, 0]]
    """
    real = ops.cast(sentence_mask, "int32")  # (batch, S)
    after = ops.sum(real, axis=1, keepdims=True) - ops.cumsum(real, axis=1)  # (batch, S)
    return after * real  # (batch, S)


def _check_arguments(attention, hops, max_sentences):
    """Validates the choices up front, naming the argument and the allowed values."""
    check_attention(attention, "StoryReader")
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 1:
        raise ValueError(
            f"Invalid value for argument `hops` of StoryReader: expected a positive int. Received: hops={hops!r}"
        )
    if not isinstance(max_sentences, int) or isinstance(max_sentences, bool) or max_sentences < 1:
        raise ValueError(
            f"Invalid value for argument `max_sentences` of StoryReader: expected a positive int. "
            f"Received: max_sentences={max_sentences!r}"
        )
