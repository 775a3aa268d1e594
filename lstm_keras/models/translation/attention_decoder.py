"""`AttentionDecoder`: a gated LSTM decoder with global attention over the encoder outputs."""

import keras
from keras import ops
from keras.src import backend

from lstm_keras.layers.attention import check_attention
from lstm_keras.layers.attention import get_attention
from lstm_keras.layers.cells import check_cell
from lstm_keras.layers.cells import recurrent_layer


@keras.saving.register_keras_serializable(package="lstm_keras")
class AttentionDecoder(keras.layers.Layer):
    """An attention decoder: a `GatedLSTM` that attends to the encoder outputs at every step.

    The global-attention decoder of Luong et al. (2015, "Effective Approaches to
    Attention-based Neural Machine Translation"), with `s_j` the encoder outputs, `e(y)` the
    target embeddings and `[;]` concatenation:

        h_t, c_t = LSTM([e(y_{t-1}); h~_{t-1}], (h_{t-1}, c_{t-1}))    (input feeding)
        h_t, c_t = LSTM(e(y_{t-1}), (h_{t-1}, c_{t-1}))                (without input feeding)
        a_t = softmax_j(score(h_t, s_j)),  ctx_t = Σ_j a_tj s_j          (padding gets a_tj = 0)
        h~_t = g(W_c [ctx_t; h_t])                                      (the attentional state)
        p(y_t | y_<t, x) = softmax(W_s h~_t + b_s)

    Luong et al. take `g = tanh`; here `g` is `attentional_activation`, linear by default: on
    Multi30k data the bounded tanh state kept the decoder near a unigram model for several
    epochs (4,000 training pairs, 64 units, Adam 3e-3: training perplexity after 6 epochs 104
    with tanh, 22 linear; the dates demo learns either way).

    The score is Bahdanau's additive MLP (`"bahdanau"`, Bahdanau et al. 2015) or one of Luong's
    `"luong-dot"` (needs `units` equal to the encoder output size), `"luong-general"`,
    `"luong-concat"`. Input feeding (Luong, section 3.3) gives the LSTM the previous attentional
    state, so it knows what was attended before; it makes the recurrence step by step (no fused
    kernel in training). The initial state is bridged from the encoder's final states:
    `h_0 = tanh(W_h [h→; h←] + b_h)`, `c_0 = W_c' [c→; c←] + b_c'`.

    Training runs the whole target sequence (teacher forcing, `call`); generation runs one token
    at a time with `step`, the `next` function of the `lstm_keras.decoding` samplers.

    Args:
        vocabulary_size: the number of target token ids.
        embedding_dim: the size of the target embeddings.
        units: the LSTM units (also the size of `h~`).
        attention: `"bahdanau"`, `"luong-dot"`, `"luong-general"` or `"luong-concat"`.
        attention_units: the hidden size of the additive / concat scores (default: `units`).
        input_feeding: whether `h~_{t-1}` is fed to the LSTM with the embedding.
        attentional_activation: `g` above, `"linear"` (default) or e.g. `"tanh"` (Luong's).
        gating: the LSTM gating: None, a preset name of `lstm_keras.layers.VARIANTS` or a dict of
            `GatedLSTM` options.
        cell: the recurrent cell, a name of `lstm_keras.layers.cells.CELLS`. The LSTM's initial
            `h` and `c` are bridged from the encoder's; every other cell starts from zero states
            (its states are not an LSTM's), the source reaching it through attention.
        dropout: the dropout rate on the embeddings and on `h~` before the output layer.
        **kwargs: base layer arguments.

    Call arguments:
        target_ids: `(batch, Tt)` int, the decoder inputs (`[START] y_1 ... y_{n}`).
        encoder_outputs: `(batch, Ts, d_enc)`.
        encoder_states: `[h_forward, c_forward, h_backward, c_backward]`, each `(batch, d_state)`
            (for `cell="lstm"`; unused by the other cells).
        source_mask: `(batch, Ts)` bool, True at real source tokens.
        training: whether dropout is active.
        return_attention_scores: whether to return the attention weights too.

    Returns:
        The logits `(batch, Tt, vocabulary_size)`; with `return_attention_scores`, a tuple
        `(logits, weights)` with weights `(batch, Tt, Ts)`.

    Example:
    >>> decoder = AttentionDecoder(vocabulary_size=30, embedding_dim=8, units=16)
    >>> encoder_outputs = keras.ops.ones((2, 5, 16))
    >>> states = [keras.ops.ones((2, 8))] * 4
    >>> mask = keras.ops.array([[True] * 5, [True] * 3 + [False] * 2])
    >>> logits, weights = decoder(keras.ops.array([[1, 4, 5], [1, 6, 0]]), encoder_outputs, states,
    ...                           source_mask=mask, return_attention_scores=True)
    >>> tuple(logits.shape), tuple(weights.shape)
    ((2, 3, 30), (2, 3, 5))
    >>> state = decoder.initial_decoding_state(encoder_outputs, states, mask)
    >>> logits, state, weights = decoder.step(keras.ops.array([1, 1]), state)
    >>> tuple(logits.shape), tuple(weights.shape)
    ((2, 30), (2, 5))
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=128,
        units=256,
        attention="bahdanau",
        attention_units=None,
        input_feeding=True,
        attentional_activation="linear",
        gating=None,
        cell="lstm",
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_attention(attention, "AttentionDecoder")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.attention = attention
        self.attention_units = attention_units
        self.input_feeding = bool(input_feeding)
        self.attentional_activation = keras.activations.serialize(keras.activations.get(attentional_activation))
        self.gating = gating
        self.cell = cell
        self.dropout = dropout
        check_cell(cell, gating)

        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        lstm = cell == "lstm"
        self.bridge_h = keras.layers.Dense(units, activation="tanh", name="bridge_h") if lstm else None
        self.bridge_c = keras.layers.Dense(units, name="bridge_c") if lstm else None
        self.lstm = recurrent_layer(cell, units, gating, return_sequences=True, return_state=True, name="lstm")
        self.attention_layer = get_attention(attention, attention_units, query_units=units, name="attention")
        self.combine = keras.layers.Dense(
            units, activation=self.attentional_activation, use_bias=False, name="attention_combine"
        )
        self.output_projection = keras.layers.Dense(vocabulary_size, name="logits")

    def build(self, target_ids_shape, encoder_outputs_shape, encoder_states_shape):
        encoder_dim = encoder_outputs_shape[-1]
        state_dim = encoder_states_shape[0][-1]
        self.embedding.build(target_ids_shape)
        if self.bridge_h is not None:
            self.bridge_h.build((None, 2 * state_dim))
            self.bridge_c.build((None, 2 * state_dim))
        lstm_inputs = self.embedding_dim + (self.units if self.input_feeding else 0)
        self.lstm.build((None, None, lstm_inputs))
        self.attention_layer.build((None, None, self.units), (None, None, encoder_dim))
        self.combine.build((None, None, encoder_dim + self.units))
        self.output_projection.build((None, None, self.units))

    def call(
        self,
        target_ids,
        encoder_outputs,
        encoder_states,
        source_mask=None,
        training=False,
        return_attention_scores=False,
    ):
        if source_mask is None:
            source_mask = ops.ones(ops.shape(encoder_outputs)[:2], dtype="bool")  # (batch, Ts)
        states = self.bridge(encoder_states)  # [h_0, c_0, ...], (batch, units) each
        x = self.dropout_layer(self.embedding(target_ids), training=training)  # (batch, Tt, embedding_dim)
        if self.input_feeding:
            attentional, weights = self._feeding_loop(x, states, encoder_outputs, source_mask, training)
        else:
            outputs = self.lstm(x, initial_state=states, training=training)[0]  # (batch, Tt, units)
            context, weights = self.attention_layer(
                outputs, encoder_outputs, mask=source_mask, return_attention_scores=True
            )  # (batch, Tt, d_enc), (batch, Tt, Ts)
            attentional = self.combine(ops.concatenate([context, outputs], axis=-1))  # (batch, Tt, units)
        logits = self.output_projection(self.dropout_layer(attentional, training=training))  # (batch, Tt, V)
        if return_attention_scores:
            return logits, weights
        return logits

    def _feeding_loop(self, x, states, encoder_outputs, source_mask, training):
        """Runs the decoder step by step over `x` `(batch, Tt, embedding_dim)` with input feeding."""
        feed = ops.zeros((ops.shape(x)[0], self.units), dtype=x.dtype)  # (batch, units)
        keys = self.attention_layer.project_keys(encoder_outputs)  # (batch, Ts, units) or None: once, not per step

        def step(inputs, loop_states):
            lstm_states, feed = list(loop_states[:-1]), loop_states[-1]
            attentional, lstm_states, weights = self._attend(inputs, feed, lstm_states, encoder_outputs,
                                                             source_mask, keys, training)
            return (attentional, weights), lstm_states + [attentional]

        _, (attentional, weights), _ = backend.rnn(step, x, list(states) + [feed])
        return attentional, weights  # (batch, Tt, units), (batch, Tt, Ts)

    def _attend(self, inputs, feed, lstm_states, encoder_outputs, source_mask, keys, training=False):
        """One decoder step from embedded inputs `(batch, embedding_dim)`: `(h~_t, states, a_t)`."""
        if self.input_feeding:
            inputs = ops.concatenate([inputs, feed], axis=-1)  # (batch, embedding_dim + units)
        h, lstm_states = self.lstm.step(inputs, lstm_states, training=training)  # (batch, units)
        context, weights = self.attention_layer(
            h, encoder_outputs, mask=source_mask, return_attention_scores=True, keys=keys
        )  # (batch, d_enc), (batch, Ts)
        attentional = self.combine(ops.concatenate([context, h], axis=-1))  # (batch, units)
        return attentional, list(lstm_states), weights

    def bridge(self, encoder_states):
        """The initial recurrent states: the LSTM's `[h_0, c_0, (extra states)]` from the encoder's `[h→, c→, h←, c←]`.

        The other cells start from zeros.
        """
        zeros = self.lstm.initial_state(ops.shape(encoder_states[0])[0])
        if self.bridge_h is None:
            return zeros
        h_forward, c_forward, h_backward, c_backward = encoder_states
        h = self.bridge_h(ops.concatenate([h_forward, h_backward], axis=-1))  # (batch, units)
        c = self.bridge_c(ops.concatenate([c_forward, c_backward], axis=-1))  # (batch, units)
        # Gatings with more state (full gate recurrence, time gate) start those at zero.
        return [h, c] + zeros[2:]

    def initial_decoding_state(self, encoder_outputs, encoder_states, source_mask):
        """The state of `step` before the first token: a dict of tensors, batch first."""
        states = self.bridge(encoder_states)
        state = {"lstm": states, "encoder_outputs": encoder_outputs, "source_mask": source_mask}
        keys = self.attention_layer.project_keys(encoder_outputs)  # (batch, Ts, units): once per sentence
        if keys is not None:
            state["keys"] = keys
        if self.input_feeding:
            state["feed"] = ops.zeros((ops.shape(encoder_outputs)[0], self.units), encoder_outputs.dtype)
        return state

    def step(self, token, state):
        """One generation step (the samplers' `next`): `(token, state) -> (logits, state, weights)`.

        Args:
            token: `(batch,)` int, the previous token.
            state: the dict of `initial_decoding_state` or of the previous step.

        Returns:
            The logits `(batch, vocabulary_size)`, the new state and the attention weights
            `(batch, Ts)`.
        """
        x = self.embedding(token)  # (batch, embedding_dim)
        attentional, lstm_states, weights = self._attend(
            x, state.get("feed"), state["lstm"], state["encoder_outputs"], state["source_mask"], state.get("keys")
        )
        logits = self.output_projection(attentional)  # (batch, V)
        new_state = dict(state, lstm=lstm_states)
        if self.input_feeding:
            new_state["feed"] = attentional
        return logits, new_state, weights

    def compute_output_spec(
        self,
        target_ids,
        encoder_outputs,
        encoder_states,
        source_mask=None,
        training=False,
        return_attention_scores=False,
    ):
        batch, target_time = target_ids.shape[0], target_ids.shape[1]
        logits = keras.KerasTensor((batch, target_time, self.vocabulary_size), dtype=self.compute_dtype)
        if not return_attention_scores:
            return logits
        weights = keras.KerasTensor((batch, target_time, encoder_outputs.shape[1]), dtype=self.compute_dtype)
        return logits, weights

    def get_config(self):
        config = {
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "input_feeding": self.input_feeding,
            "attentional_activation": self.attentional_activation,
            "gating": self.gating,
            "cell": self.cell,
            "dropout": self.dropout,
        }
        return {**super().get_config(), **config}
