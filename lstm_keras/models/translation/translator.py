"""`Translator`: an attention-based LSTM encoder-decoder for machine translation."""

import keras
from keras import ops

from lstm_keras import decoding
from lstm_keras.decoding.compiled import CompiledGenerate
from lstm_keras.distribute import DistributedFitMixin
from lstm_keras.layers.masking import MASKED_VALUE
from lstm_keras.models.masked_sequence_losses import MaskedAccuracy
from lstm_keras.models.masked_sequence_losses import MaskedSparseCategoricalCrossentropy
from lstm_keras.models.masked_sequence_losses import Perplexity
from lstm_keras.models.translation.attention_decoder import AttentionDecoder
from lstm_keras.models.translation.seq2seq_encoder import Seq2SeqEncoder


@keras.saving.register_keras_serializable(package="lstm_keras")
class Translator(DistributedFitMixin, keras.Model):
    """An attention encoder-decoder for translation (Bahdanau et al. 2015; Luong et al. 2015).

    A `Seq2SeqEncoder` (embeddings, stacked bidirectional `GatedLSTM`s) reads the source ids; an
    `AttentionDecoder` (a `GatedLSTM` with Bahdanau or Luong attention and optional input
    feeding, its initial state bridged from the encoder's final states) predicts the target.
    The model is a functional Keras model trained with teacher forcing on
    `((source_ids, target_in_ids), target_out_ids)` batches, where `target_in = [START] + y` and
    `target_out = y + [END]`, right-padded with `pad_token_id`.

    `compile()` has training defaults: Adam with gradient clipping by norm, the masked
    cross-entropy with label smoothing, masked token accuracy and perplexity. Generation runs
    one token at a time through `decode_step` with a sampler of `lstm_keras.decoding` (greedy or
    beam search), for at most `ceil(max_length_ratio * source_length) + max_length_offset`
    tokens (and never more than `max_length`); `generate_ids` compiles it (a `tf.function` on
    TensorFlow).

    Args:
        source_vocabulary_size: the number of source token ids.
        target_vocabulary_size: the number of target token ids.
        embedding_dim: the size of the source and target embeddings.
        units: the units of each encoder LSTM direction; the decoder has `2 * units` (so that
            Luong's "dot" score can compare decoder and encoder states).
        num_layers: the number of stacked bidirectional encoder layers.
        gating: the gating of every LSTM: None (standard, fused kernel), a preset name of
            `lstm_keras.layers.VARIANTS` or a dict of `GatedLSTM` options.
        cell: the recurrent cell of the encoder and the decoder, a name of
            `lstm_keras.layers.cells.CELLS` (`gating` is for `"lstm"`; see `AttentionDecoder` for
            how each cell's initial decoder state is set).
        attention: `"bahdanau"`, `"luong-dot"`, `"luong-general"` or `"luong-concat"`.
        attention_units: the hidden size of the additive / concat scores (default: decoder units).
        input_feeding: whether the decoder's previous attentional state is fed to its LSTM.
        attentional_activation: the activation of the decoder's attentional state (`"linear"`,
            or Luong's `"tanh"`; see `AttentionDecoder`).
        dropout: the dropout rate of the encoder and decoder.
        pad_token_id, start_token_id, end_token_id: the reserved ids of the target vocabulary
            (those of `lstm_keras.text`: 0, 1, 2).
        max_length_ratio, max_length_offset, max_length: the generation limit per sentence,
            `min(ceil(max_length_ratio * source_length) + max_length_offset, max_length)` tokens
            (`[END]` included), with `source_length` the number of non-padding source ids.
        **kwargs: base model arguments (`name`, ...).

    Inputs:
        `(source_ids, target_in_ids)`: int tensors `(batch, Ts)` and `(batch, Tt)`.

    Output:
        The logits `(batch, Tt, target_vocabulary_size)`.

    Example:
    >>> import numpy as np
    >>> model = Translator(source_vocabulary_size=20, target_vocabulary_size=15, embedding_dim=8, units=8)
    >>> source = np.array([[1, 5, 6, 2], [1, 7, 2, 0]])
    >>> tuple(model((source, np.array([[1, 4, 5], [1, 6, 0]]))).shape)
    (2, 3, 15)
    >>> tokens, attention = model.generate_ids(source, sampler="greedy")
    >>> tokens.shape[0], attention.shape[0], attention.shape[2]
    (2, 2, 4)
    """

    def __init__(
        self,
        source_vocabulary_size,
        target_vocabulary_size,
        embedding_dim=128,
        units=128,
        num_layers=1,
        gating=None,
        cell="lstm",
        attention="bahdanau",
        attention_units=None,
        input_feeding=True,
        attentional_activation="linear",
        dropout=0.2,
        pad_token_id=0,
        start_token_id=1,
        end_token_id=2,
        max_length_ratio=1.5,
        max_length_offset=10,
        max_length=128,
        **kwargs,
    ):
        # === Layers ===
        self.encoder = Seq2SeqEncoder(
            source_vocabulary_size,
            embedding_dim=embedding_dim,
            units=units,
            num_layers=num_layers,
            gating=gating,
            cell=cell,
            dropout=dropout,
            name="encoder",
        )
        self.decoder = AttentionDecoder(
            target_vocabulary_size,
            embedding_dim=embedding_dim,
            units=2 * units,
            attention=attention,
            attention_units=attention_units,
            input_feeding=input_feeding,
            attentional_activation=attentional_activation,
            gating=gating,
            cell=cell,
            dropout=dropout,
            name="decoder",
        )

        # === Functional model ===
        source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
        target_in_ids = keras.Input(shape=(None,), dtype="int32", name="target_in_ids")
        encoder_outputs, encoder_states = self.encoder(source_ids)
        source_mask = ops.not_equal(source_ids, pad_token_id)  # (batch, Ts)
        logits = self.decoder(target_in_ids, encoder_outputs, encoder_states, source_mask=source_mask)
        super().__init__(inputs=(source_ids, target_in_ids), outputs=logits, **kwargs)

        # === Config ===
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.gating = gating
        self.cell = cell
        self.attention = attention
        self.attention_units = attention_units
        self.input_feeding = input_feeding
        self.attentional_activation = self.decoder.attentional_activation
        self.dropout = dropout
        self.pad_token_id = pad_token_id
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.max_length_ratio = max_length_ratio
        self.max_length_offset = max_length_offset
        self.max_length = max_length
        self._compiled_decode = CompiledGenerate([("int32", (None, None))], autograph=False)

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=1e-3,
        clipnorm=1.0,
        label_smoothing=0.1,
        **kwargs,
    ):
        """Compiles with the translation defaults (each `"auto"` argument).

        Args:
            optimizer: `"auto"` for Adam with `learning_rate` and `clipnorm`, or any optimizer.
            loss: `"auto"` for `MaskedSparseCategoricalCrossentropy(label_smoothing)`.
            metrics: `"auto"` for `[MaskedAccuracy(), Perplexity()]`.
            learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
            clipnorm: the gradient clipping norm of the default optimizer (None: no clipping).
            label_smoothing: the label smoothing of the default loss.
            **kwargs: other `keras.Model.compile` arguments (`jit_compile` defaults to False on
                TensorFlow, where the fused cuDNN LSTM kernel is not XLA-compatible, and to Keras'
                own default elsewhere: JAX always compiles).
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
        if loss == "auto":
            loss = MaskedSparseCategoricalCrossentropy(label_smoothing=label_smoothing, pad_token_id=self.pad_token_id)
        if metrics == "auto":
            metrics = [MaskedAccuracy(pad_token_id=self.pad_token_id), Perplexity(pad_token_id=self.pad_token_id)]
        if keras.backend.backend() == "tensorflow":
            kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # Restores the compiled state saved in a `.keras` file (`compile` is overridden).
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def generation_limits(self, source_ids):
        """The most tokens to generate for each sentence: `(batch,)` int32."""
        lengths = ops.sum(ops.cast(ops.not_equal(source_ids, self.pad_token_id), "float32"), axis=1)  # (batch,)
        limits = ops.cast(ops.ceil(self.max_length_ratio * lengths), "int32") + self.max_length_offset
        return ops.minimum(limits, self.max_length)  # (batch,)

    def initial_decoding_state(self, source_ids):
        """Encodes `source_ids` `(batch, Ts)`; returns the state of `decode_step` before the first token."""
        source_ids = ops.cast(source_ids, "int32")
        encoder_outputs, encoder_states = self.encoder(source_ids, training=False)
        source_mask = ops.not_equal(source_ids, self.pad_token_id)  # (batch, Ts)
        return self.decoder.initial_decoding_state(encoder_outputs, encoder_states, source_mask)

    def decode_step(self, token, state):
        """The samplers' `next`: `(token (batch,), state) -> (logits (batch, V), state, attention (batch, Ts))`.

        Padding and the start token get a logit of -1e9: they are never generated.
        """
        logits, state, weights = self.decoder.step(token, state)
        ids = ops.arange(self.target_vocabulary_size)
        forbidden = ops.logical_or(ops.equal(ids, self.pad_token_id), ops.equal(ids, self.start_token_id))  # (V,)
        logits = ops.where(forbidden, ops.cast(MASKED_VALUE, logits.dtype), logits)  # (batch, V)
        return logits, state, weights

    def decode(self, source_ids, sampler="greedy", return_attention=True, length_bound=None):
        """Generates target ids for `source_ids` `(batch, Ts)` (not compiled: call it in a graph).

        Args:
            source_ids: int `(batch, Ts)`, right-padded (with `[START]`/`[END]` as in training).
            sampler: a sampler, its name or its config (see `lstm_keras.decoding.get`).
            return_attention: whether to record the attention weights of every generated token.
                Without them the loop carries no attention buffers, which beam search would
                otherwise reorder at every step (`TranslationModule.translate` does without),
                unless the sampler scores them (`needs_attention`: beam search's coverage penalty).
            length_bound: None, or a static int `T` for the outputs' width (e.g. `max_length`;
                `jax.jit` needs one): see `lstm_keras.decoding.Sampler`.

        Returns:
            `(token_ids, attention)`: int32 `(batch, T)`, the generated ids up to and including
            `[END]`, padded; and the attention weights `(batch, T, Ts)` of each generated token
            (None without `return_attention`, unless the sampler needs them).
        """
        sampler = decoding.get(sampler)
        source_ids = ops.cast(source_ids, "int32")
        state = self.initial_decoding_state(source_ids)
        start = ops.full((ops.shape(source_ids)[0],), self.start_token_id, dtype="int32")  # (batch,)
        keep_attention = return_attention or sampler.needs_attention

        def step(token, state):
            logits, state, attention = self.decode_step(token, state)
            return logits, state, attention if keep_attention else None

        return sampler(
            step,
            start,
            state,
            self.generation_limits(source_ids),
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
            length_bound=length_bound,
            attention_mask=ops.not_equal(source_ids, self.pad_token_id),  # (batch, Ts)
        )

    def generate_ids(self, source_ids, sampler="greedy"):
        """`decode`, compiled once per sampler (a `tf.function` on TensorFlow); returns NumPy arrays."""
        # autograph off: the loops are explicit `keras.ops.while_loop`s.
        return self._compiled_decode(self.decode, decoding.get(sampler), source_ids)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "gating": self.gating,
            "cell": self.cell,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "input_feeding": self.input_feeding,
            "attentional_activation": self.attentional_activation,
            "dropout": self.dropout,
            "pad_token_id": self.pad_token_id,
            "start_token_id": self.start_token_id,
            "end_token_id": self.end_token_id,
            "max_length_ratio": self.max_length_ratio,
            "max_length_offset": self.max_length_offset,
            "max_length": self.max_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
