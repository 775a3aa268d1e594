"""`LanguageModel`: a stacked gated-LSTM language model for truncated BPTT, scoring and generation."""

import math
import numbers

import keras
import numpy as np
from keras import ops

from lstm_keras import decoding
from lstm_keras.decoding.compiled import CompiledGenerate
from lstm_keras.layers.adaptive_softmax import AdaptiveSoftmax
from lstm_keras.layers.cells import check_cell
from lstm_keras.layers.cells import recurrent_layer
from lstm_keras.layers.masking import MASKED_VALUE
from lstm_keras.layers.token_embedding import TokenEmbedding
from lstm_keras.models.masked_sequence_losses import MaskedSparseCategoricalCrossentropy
from lstm_keras.models.masked_sequence_losses import Perplexity

# The most tokens one call of `generate` may produce (`max_length`), `[END]` included.
MAX_GENERATED_TOKENS = 1024
SOFTMAXES = ("full", "adaptive")
# The optimiser of `compile(optimizer="auto")` by cell, chosen on two corpora (benchmarks/bench_cells.py,
# BENCHMARKS.md): SGD with a large step for the cells whose state passes a nonlinearity at every step,
# Adam for the linear-recurrence cells and the xLSTM blocks (with their layer norms).
AUTO_OPTIMIZERS = {
    "sgd": {"learning_rate": 20.0, "clipnorm": 0.25},
    "adam": {"learning_rate": 2e-3, "clipnorm": 1.0},
}
SGD_CELLS = ("lstm", "slstm")


def auto_optimizer(cell):
    """The name (a key of `AUTO_OPTIMIZERS`) of the default optimiser of a language model of `cell`."""
    return "sgd" if cell in SGD_CELLS else "adam"


@keras.saving.register_keras_serializable(package="lstm_keras")
class LanguageModel(keras.Model):
    """A word-level (or subword) LSTM language model (Zaremba et al. 2014; Merity et al. 2018).

    The model predicts every next token of a sequence:

        token_ids (batch, T)
        -> TokenEmbedding                     (batch, T, embedding_dim)
        -> locked dropout (embedding_dropout)
        -> num_layers x [recurrent layer (cell, units_l) -> locked dropout]   (batch, T, units_l)
           (`dropout` between layers, `output_dropout` after the last one; for an xLSTM
           stack a LayerNorm after the last block, as in Beck et al. 2024)
        -> [Dense(embedding_dim) if project_output]
        -> softmax="full":     TokenEmbedding(reverse=True)   (batch, T, vocabulary_size) logits, tied or not
           softmax="adaptive": the hidden vectors (batch, T, d), which `AdaptiveSoftmax` turns into
                               exact log-probabilities (`hidden_to_logits`) or, in training, into
                               the targets' negative log-likelihood (`compute_loss`)

    Locked (variational) dropout (Gal & Ghahramani 2016; Merity et al. 2018) draws one mask per
    sequence and feature and keeps it for every time step (`keras.layers.SpatialDropout1D`), so
    the same units are dropped along the whole window, as the recurrence sees them. Weight
    tying (Press & Wolf 2017; Inan et al. 2017) uses the embedding matrix as the softmax matrix;
    the last LSTM layer must then output `embedding_dim` features, or `project_output` adds a
    linear projection to that size. `[PAD]` and `[START]` get a logit of -1e9: they are never
    predicted, so the distribution is over the real tokens and `[END]` only.

    The adaptive softmax (Grave et al. 2017, `lstm_keras.layers.AdaptiveSoftmax`) splits the
    frequency-sorted vocabulary into a head and tail clusters of smaller projections: training
    computes a tail cluster only for the targets in it, several times faster over a large
    vocabulary, while every probability stays exact (perplexities remain comparable). Its
    output is then the hidden vectors, and `compile` computes the loss and the perplexity from
    them; `hidden_to_logits`, `score`, `generate` and the exports see full log-probabilities
    as with the full softmax. Tied, its word vectors are the embedding rows.

    The recurrent layers are chosen by `cell` (`lstm_keras.layers.cells`): `"lstm"` (a
    `GatedLSTM` with the `gating` preset), `"slstm"`, `"mlstm"`, `"minlstm"`, `"mingru"` or an
    xLSTM stack `"xlstm[A:B]"`; training runs each layer's parallel (or fused) form, and
    generation its recurrent step (constant memory per token).

    Truncated back-propagation through time: with `batch_size` set, every recurrent layer is
    stateful and the model reads `batch_size` parallel token streams, `bptt` steps per batch
    (`lstm_keras.datasets.language_modeling.language_modeling_arrays`): the final states of a
    batch are the initial states of the next, so the model sees the whole stream while
    gradients flow through `bptt` steps only; `ResetStates` (a callback) zeroes them at every
    epoch and evaluation. Its input then has a fixed batch size. Without `batch_size` the model
    is stateless (any batch size; every sequence starts from zero states).

    `compile()` has defaults: plain SGD with a large learning rate (20) and gradient clipping by
    a small global norm (0.25), the recipe of the PyTorch word-language-model example and of
    Merity et al. 2018; the cross-entropy over the non-padding targets and `Perplexity` (`exp` of the mean NLL over all non-padding
    targets seen, so an epoch's value counts every token once). Scoring (`score`) and
    generation (`generate`, through a sampler of `lstm_keras.decoding` and the step function
    `decode_step`) run the same weights as graph code for any batch size, whatever the
    training batch size: sequences start from zero states after an `[END]` (a line boundary).

    Args:
        vocabulary_size: the number of token ids.
        embedding_dim: the size of the token embeddings.
        units: the units of every LSTM layer (an int), or a list of one int per layer.
        num_layers: the number of stacked LSTM layers.
        gating: the gating of every LSTM: None (standard LSTM), a preset name of
            `lstm_keras.layers.VARIANTS` or a dict of `GatedLSTM` options (e.g.
            `{"variant": "cifg", "recurrent_dropout": 0.1}`); with `cell="lstm"` only.
        cell: the recurrent cell, a name of `lstm_keras.layers.cells.CELLS`.
        tie_weights: whether the softmax matrix is the embedding matrix (the adaptive softmax's
            word vectors, for `softmax="adaptive"`).
        project_output: whether a linear `Dense(embedding_dim)` follows the last LSTM layer
            (needed to tie weights when its units differ from `embedding_dim`).
        embedding_dropout: the locked dropout rate on the embeddings.
        dropout: the locked dropout rate between LSTM layers.
        output_dropout: the locked dropout rate on the last LSTM layer's outputs.
        batch_size: the number of parallel streams of truncated BPTT (stateful LSTMs), or None
            for a stateless model.
        softmax: `"full"` (logits over the whole vocabulary) or `"adaptive"`.
        cutoffs: the adaptive softmax's cluster boundaries (None: `default_cutoffs` of the
            vocabulary size); only with `softmax="adaptive"`.
        pad_token_id: the padding id (never predicted; padded targets do not count).
        start_token_id: the `[START]` id (never predicted), or None.
        end_token_id: the `[END]` id: it ends every line and is the context before the first
            token of a scored or generated sentence.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs:
        `token_ids`: int `(batch, T)`.

    Output:
        The logits of the next token at every position, `(batch, T, vocabulary_size)`; with
        `softmax="adaptive"`, the hidden vectors `(batch, T, d)` (`hidden_to_logits` gives the
        log-probabilities).

    Example:
    >>> import numpy as np
    >>> model = LanguageModel(30, embedding_dim=8, units=8, num_layers=2, tie_weights=True)
    >>> tuple(model(np.array([[2, 5, 6, 7], [2, 9, 8, 2]])).shape)
    (2, 4, 30)
    >>> log_probs, counts = model.score(np.array([[5, 6, 0], [7, 0, 0]]))  # + [END] each
    >>> keras.ops.convert_to_numpy(counts).tolist()
    [3, 2]
    >>> model.generate_ids(np.array([[5, 6], [0, 0]]), max_length=4, sampler="greedy").shape
    (2, 4)
    >>> adaptive = LanguageModel(60, embedding_dim=8, units=8, softmax="adaptive", cutoffs=[20, 40])
    >>> hidden = adaptive(np.array([[2, 5, 6]]))  # (1, 3, 8)
    >>> probabilities = keras.ops.exp(adaptive.hidden_to_logits(hidden))  # (1, 3, 60)
    >>> np.allclose(keras.ops.convert_to_numpy(keras.ops.sum(probabilities, axis=-1)), 1.0, atol=1e-5)
    True
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=200,
        units=200,
        num_layers=2,
        gating=None,
        cell="lstm",
        tie_weights=False,
        project_output=False,
        embedding_dropout=0.2,
        dropout=0.2,
        output_dropout=0.2,
        batch_size=None,
        pad_token_id=0,
        start_token_id=1,
        end_token_id=2,
        softmax="full",
        cutoffs=None,
        **kwargs,
    ):
        _check_softmax(softmax, cutoffs)
        layer_units = _check_arguments(
            vocabulary_size, embedding_dim, units, num_layers, tie_weights, project_output, batch_size,
            {"embedding_dropout": embedding_dropout, "dropout": dropout, "output_dropout": output_dropout},
            {"pad_token_id": pad_token_id, "start_token_id": start_token_id, "end_token_id": end_token_id},
        )
        xlstm = check_cell(cell, gating) is not None
        stateful = batch_size is not None

        # === Layers ===
        adaptive = softmax == "adaptive"
        self.token_embedding = TokenEmbedding(
            vocabulary_size,
            embedding_dim,
            tie_weights=tie_weights or adaptive,  # adaptive: the embedding table only (its own output layer)
            hidden_dim=embedding_dim if project_output or adaptive else layer_units[-1],
            use_output_bias=not adaptive,
            name="token_embedding",
        )
        excluded = tuple(token_id for token_id in (pad_token_id, start_token_id) if token_id is not None)
        self.adaptive_softmax = (
            AdaptiveSoftmax(vocabulary_size, cutoffs, tie_weights=tie_weights, excluded_ids=excluded,
                            name="adaptive_softmax")
            if adaptive else None
        )
        self.embedding_dropout = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")
        self.lstm_layers = [
            recurrent_layer(cell, size, gating, index=index, return_sequences=True, stateful=stateful,
                            name=f"lstm_{index + 1}")
            for index, size in enumerate(layer_units)
        ]
        self.post_blocks_norm = keras.layers.LayerNormalization(name="post_blocks_norm") if xlstm else None
        self.dropout_layers = []
        for index in range(num_layers):
            last = index == num_layers - 1
            self.dropout_layers.append(
                keras.layers.SpatialDropout1D(
                    output_dropout if last else dropout, name="output_dropout" if last else f"dropout_{index + 1}"
                )
            )
        self.output_projection = (
            keras.layers.Dense(embedding_dim, name="output_projection") if project_output else None
        )
        forbidden = np.zeros((vocabulary_size,), "float32")
        for token_id in (pad_token_id, start_token_id):
            if token_id is not None:
                forbidden[token_id] = MASKED_VALUE
        self._forbidden_logits = forbidden  # (V,)

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="token_ids")
        x = self.token_embedding(token_ids)  # (batch, T, embedding_dim)
        x = self.embedding_dropout(x)
        for lstm, drop in zip(self.lstm_layers, self.dropout_layers):
            x = lstm(x)  # (batch, T, units_l)
            if lstm is self.lstm_layers[-1]:
                x = self._post_blocks(x)
            x = drop(x)
        if self.output_projection is not None:
            x = self.output_projection(x)  # (batch, T, embedding_dim)
        if adaptive:
            self.adaptive_softmax.build(x.shape)
            outputs = x  # (batch, T, d): the adaptive softmax reads them in `compute_loss`
        else:
            outputs = self.output_logits(x)  # (batch, T, V)
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.gating = gating
        self.cell = cell
        self.tie_weights = tie_weights
        self.project_output = project_output
        self.embedding_dropout_rate = embedding_dropout
        self.dropout = dropout
        self.output_dropout = output_dropout
        self.batch_size = batch_size
        self.pad_token_id = pad_token_id
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.softmax = softmax
        self.cutoffs = self.adaptive_softmax.cutoffs if adaptive else None
        # The adaptive softmax's perplexity, which `compute_loss` updates (its output is no logits).
        self.token_perplexity = Perplexity(pad_token_id=pad_token_id) if adaptive else None
        self._compiled_generate = CompiledGenerate([("int32", (None, None)), ("int32", ()), ("float32", ())])

    @property
    def stateful(self):
        """Whether the LSTM states carry over from one batch to the next (`batch_size` is set)."""
        return self.batch_size is not None

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=None,
        clipnorm=None,
        **kwargs,
    ):
        """Compiles with the language-modelling defaults (each `"auto"` argument).

        Args:
            optimizer: `"auto"` for the cell's optimiser (`auto_optimizer`) with `learning_rate`
                and gradient clipping by global norm `clipnorm`, or any optimizer. For `lstm` and
                `slstm`, SGD (lr 20, clipping 0.25): with Adam at 1e-3 to 2e-3 the carried cell
                states of a stateful PTB model grew to magnitudes of 10^2 to 10^3 in the first
                few hundred steps, and the model then did badly from zero states; SGD kept them
                below 10 and learned faster. For the other cells Adam (lr 2e-3, clipping 1),
                which learned faster than SGD for minLSTM, minGRU and the xLSTM blocks on PTB
                and Multi30k (BENCHMARKS.md).
            loss: `"auto"` for `MaskedSparseCategoricalCrossentropy` (padding targets skipped);
                with the adaptive softmax, only `"auto"` (or None): its loss is `compute_loss`.
            metrics: `"auto"` for `[Perplexity()]` (the adaptive softmax's is built in).
            learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`; None
                for the default of the cell's optimiser (`AUTO_OPTIMIZERS`).
            clipnorm: the global gradient norm of the default optimizer (None: its default; 0: no
                clipping).
            **kwargs: other `keras.Model.compile` arguments (`jit_compile` defaults to False on
                TensorFlow, Keras' own default elsewhere: JAX always compiles).
        """
        if optimizer == "auto":
            name = auto_optimizer(self.cell)
            defaults = AUTO_OPTIMIZERS[name]
            learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
            clipnorm = defaults["clipnorm"] if clipnorm is None else clipnorm or None
            optimizer = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[name](
                learning_rate=learning_rate, global_clipnorm=clipnorm
            )
        if self.adaptive_softmax is not None:
            if loss not in ("auto", None) or metrics not in ("auto", None, []):
                raise ValueError(
                    "Invalid value for argument `loss` or `metrics` of LanguageModel.compile: with "
                    "softmax='adaptive' the model computes its own loss and perplexity (its outputs are hidden "
                    f"vectors, not logits); leave them 'auto'. Received: loss={loss!r}, metrics={metrics!r}"
                )
            loss, metrics = None, []
        if loss == "auto":
            loss = MaskedSparseCategoricalCrossentropy(pad_token_id=self.pad_token_id)
        if metrics == "auto":
            metrics = [Perplexity(pad_token_id=self.pad_token_id)]
        if keras.backend.backend() == "tensorflow":
            kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # Restores the compiled state saved in a `.keras` file (`compile` is overridden).
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The adaptive softmax's loss: the mean negative log-likelihood of the non-padding targets.

        With the full softmax, Keras' own (the compiled loss on the logits). With the adaptive
        one, `y_pred` holds the hidden vectors `(batch, T, d)`: `AdaptiveSoftmax.nll` computes
        each target's cluster only, and the perplexity metric is updated here.
        """
        if self.adaptive_softmax is None:
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        targets = ops.cast(y, "int32")  # (batch, T)
        nll = self.adaptive_softmax.nll(y_pred, targets, **self._tied_embeddings())  # (batch, T)
        mask = ops.cast(ops.not_equal(targets, self.pad_token_id), "float32")  # (batch, T)
        self.token_perplexity.update_from_nll(nll, mask)
        return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)

    def _tied_embeddings(self):
        """The adaptive softmax's `embeddings` argument: the embedding table when tied, else none."""
        return {"embeddings": self.token_embedding.embeddings} if self.tie_weights else {}

    def reset_states(self):
        """Zeroes the carried states of the stateful recurrent layers (a no-op when stateless)."""
        for lstm in self.lstm_layers:
            if lstm.stateful:
                lstm.reset_state()

    def _post_blocks(self, x):
        """The LayerNorm after an xLSTM stack (the identity for the other cells)."""
        return x if self.post_blocks_norm is None else self.post_blocks_norm(x)

    # ------------------------------------------------------------------ graph code for any batch
    def hidden_to_logits(self, hidden):
        """Logits `(..., V)` from the last LSTM layer's outputs `(..., units)` (projection, softmax).

        With the adaptive softmax these are exact log-probabilities (valid logits: their
        softmax is the same distribution).
        """
        if self.output_projection is not None:
            hidden = self.output_projection(hidden)  # (..., embedding_dim)
        return self.output_logits(hidden)

    def output_logits(self, hidden):
        """Logits `(..., V)` of the vectors `(..., d)` the softmax reads (after any output projection)."""
        if self.adaptive_softmax is not None:
            return self.adaptive_softmax(hidden, **self._tied_embeddings())  # (..., V) log-probabilities
        logits = self.token_embedding(hidden, reverse=True)  # (..., V)
        return logits + ops.cast(self._forbidden_logits, logits.dtype)

    def initial_state(self, batch_size):
        """Zero states of every recurrent layer: a list (per layer) of lists of `(batch, ...)` tensors."""
        return [lstm.initial_state(batch_size) for lstm in self.lstm_layers]

    def encode(self, token_ids, state=None, mask=None):
        """Runs the stack over `token_ids` `(batch, T)` without dropout and without the carried states.

        Args:
            token_ids: int `(batch, T)`, T >= 1.
            state: the initial states (as `initial_state` returns them), or None for zeros.
            mask: optional bool `(batch, T)`, True on the steps to read; it must be right-padded
                (a prefix of each row); masked steps keep the state.

        Returns:
            `(outputs, state)`: the last layer's outputs `(batch, T, units)` and the states after
            the last unmasked step of each row.
        """
        token_ids = ops.cast(token_ids, "int32")
        if state is None:
            state = self.initial_state(ops.shape(token_ids)[0])
        x = self.token_embedding(token_ids)  # (batch, T, embedding_dim)
        new_state = []
        for lstm, layer_state in zip(self.lstm_layers, state):
            # The layer's training form (fused kernel, compiled loop or parallel scan), bypassing carried states.
            x, layer_state = lstm.scan(x, list(layer_state), mask, training=False)  # (batch, T, units_l)
            new_state.append(list(layer_state))
        return self._post_blocks(x), new_state

    def stream(self, token_ids, state=None):
        """Reads one chunk of a long text from `state`: what a server calls chunk after chunk.

        Feeding a text chunk by chunk, each call given the state the previous one returned, gives
        the log-probabilities of reading it whole (tested): the state is the recurrent layers'
        (constant in size, whatever was read). Padded steps (`pad_token_id`, right-padded) keep the
        state, so rows of a batch may end their chunks at different lengths.

        Args:
            token_ids: int `(batch, T)`, T >= 1, the chunk's ids (right-padded with `pad_token_id`).
            state: the states `stream` returned for the previous chunk (as `initial_state` gives
                them, or flattened by `flatten_state`), or None at the start of a text.

        Returns:
            `(log_probabilities, state)`: float32 `(batch, T, V)`, the log-probabilities of the
            next token after each step (meaningless at padded steps), and the states after the
            chunk's last unpadded step.
        """
        token_ids = ops.cast(token_ids, "int32")  # (batch, T)
        if state is not None and not isinstance(state, (list, tuple)):
            state = self.unflatten_state(state)
        outputs, state = self.encode(token_ids, state, mask=ops.not_equal(token_ids, self.pad_token_id))
        return self.log_probabilities(outputs), state

    def log_probabilities(self, outputs):
        """float32 log-probabilities `(..., V)` of the next token from the last layer's outputs `(..., units)`."""
        return ops.log_softmax(ops.cast(self.hidden_to_logits(outputs), "float32"), axis=-1)

    def flat_state_size(self):
        """The number of values in one example's states (`flatten_state`)."""
        return sum(int(np.prod(s.shape[1:])) for layer in self.initial_state(1) for s in layer)

    def flatten_state(self, state):
        """The states of every layer (as `initial_state` gives them) as one float32 `(batch, flat_state_size())`."""
        parts = [ops.reshape(ops.cast(s, "float32"), (ops.shape(s)[0], -1)) for layer in state for s in layer]
        return ops.concatenate(parts, axis=1)  # (batch, S)

    def unflatten_state(self, flat):
        """The inverse of `flatten_state`: float `(batch, S)` to the states of every layer."""
        state, start = [], 0
        for layer_state in self.initial_state(1):  # one example's zero states: their shapes and dtypes
            state.append([])
            for template in layer_state:
                shape = tuple(template.shape[1:])
                size = int(np.prod(shape))
                part = ops.reshape(flat[:, start:start + size], (ops.shape(flat)[0], *shape))  # (batch, *shape)
                state[-1].append(ops.cast(part, keras.backend.standardize_dtype(template.dtype)))
                start += size
        return state

    def decode_step(self, token, state):
        """The samplers' `next`: `(token (batch,), state) -> (logits (batch, V), state, None)`.

        `state` is `{"lstm": per-layer states, "temperature": (batch, 1)}`; the logits are
        divided by the temperature (a tensor, so that a SavedModel can take it as an input).
        """
        x = self.token_embedding(ops.cast(token, "int32"))  # (batch, embedding_dim)
        new_state = []
        for lstm, layer_state in zip(self.lstm_layers, state["lstm"]):
            x, layer_state = lstm.step(x, list(layer_state), training=False)  # (batch, units_l)
            new_state.append(list(layer_state))
        logits = self.hidden_to_logits(self._post_blocks(x)) / ops.cast(state["temperature"], x.dtype)  # (batch, V)
        return logits, {"lstm": new_state, "temperature": state["temperature"]}, None

    def prompt_state(self, prompt_ids):
        """Reads prompts; returns `(start_tokens (batch,), lstm_state)` for a sampler.

        The context of a prompt `p_1 .. p_m` (right-padded ids `(batch, P)`, P >= 0) is
        `[END] p_1 .. p_m`: the state after all but its last token, and that last token as the
        first input of the sampler (`[END]` alone for an empty prompt: a new sentence).
        """
        prompt_ids = ops.cast(prompt_ids, "int32")  # (batch, P)
        batch_size = ops.shape(prompt_ids)[0]
        lengths = ops.sum(ops.cast(ops.not_equal(prompt_ids, self.pad_token_id), "int32"), axis=1)  # (batch,)
        boundary = ops.full((batch_size, 1), self.end_token_id, dtype="int32")
        context = ops.concatenate([boundary, prompt_ids], axis=1)  # (batch, P + 1)
        positions = ops.expand_dims(ops.arange(ops.shape(context)[1], dtype="int32"), 0)  # (1, P + 1)
        mask = ops.less(positions, ops.expand_dims(lengths, 1))  # (batch, P + 1): all but the last token
        _, state = self.encode(context, mask=mask)
        start_tokens = ops.take_along_axis(context, ops.expand_dims(lengths, 1), axis=1)[:, 0]  # (batch,)
        return start_tokens, state

    def generate(self, prompt_ids, max_length, sampler="random", temperature=1.0, stop_at_end=True):
        """Continues prompts (not compiled: call it in a graph, or use `generate_ids`).

        Args:
            prompt_ids: int `(batch, P)`, right-padded with `pad_token_id` (P may be 0; an empty
                row starts a new sentence).
            max_length: the most tokens to generate, `[END]` included: an int in
                [1, MAX_GENERATED_TOKENS], or a scalar / `(batch,)` int tensor.
            sampler: a sampler, its name or its config (`lstm_keras.decoding.get`).
            temperature: a positive number (or a scalar / `(batch,)` tensor) dividing the logits.
            stop_at_end: whether a sequence ends after its `[END]` (else it goes on, across
                sentence boundaries, for `max_length` tokens).

        Returns:
            int32 `(batch, T)`: the generated ids, up to and including `[END]`, then padding.
        """
        _check_generation_arguments(max_length, temperature)
        sampler = decoding.get(sampler)
        start_tokens, state = self.prompt_state(prompt_ids)
        batch_size = ops.shape(start_tokens)[0]
        temperature = ops.reshape(ops.cast(temperature, "float32"), (-1, 1))  # (1, 1) or (batch, 1)
        temperature = ops.broadcast_to(temperature, (batch_size, 1))  # (batch, 1)
        tokens, _ = sampler(
            self.decode_step,
            start_tokens,
            {"lstm": state, "temperature": temperature},
            max_length,
            end_token_id=self.end_token_id if stop_at_end else None,
            pad_token_id=self.pad_token_id,
        )
        return tokens

    def generate_ids(self, prompt_ids, max_length, sampler="random", temperature=1.0, stop_at_end=True):
        """`generate`, compiled once per sampler (a `tf.function` on TensorFlow); returns a NumPy array."""
        _check_generation_arguments(max_length, temperature)
        return self._compiled_generate(
            lambda ids, length, t, sampler: self.generate(ids, length, sampler, t, stop_at_end),
            decoding.get(sampler), prompt_ids, max_length, temperature, key=stop_at_end,
        )

    def score(self, token_ids):
        """Log-probabilities of sentences: `log P(w_1 .. w_n [END] | [END])`, natural log.

        Args:
            token_ids: int `(batch, T)`, each row a sentence's ids right-padded with
                `pad_token_id` (no `[END]`: it is added and scored; an empty row scores `[END]`).

        Returns:
            `(log_probabilities, counts)`: float32 `(batch,)` sums of the log-probabilities of
            the `n + 1` predicted tokens, and int32 `(batch,)` the counts `n + 1`.
        """
        token_ids = ops.cast(token_ids, "int32")  # (batch, T)
        batch_size = ops.shape(token_ids)[0]
        lengths = ops.sum(ops.cast(ops.not_equal(token_ids, self.pad_token_id), "int32"), axis=1)  # (batch,)
        boundary = ops.full((batch_size, 1), self.end_token_id, dtype="int32")
        padding = ops.full((batch_size, 1), self.pad_token_id, dtype="int32")
        sequence = ops.concatenate([boundary, token_ids, padding], axis=1)  # (batch, T + 2)
        positions = ops.expand_dims(ops.arange(ops.shape(sequence)[1], dtype="int32"), 0)  # (1, T + 2)
        ends = ops.equal(positions, ops.expand_dims(lengths + 1, 1))  # (batch, T + 2)
        sequence = ops.where(ends, self.end_token_id, sequence)  # [END] w_1 .. w_n [END] pad..
        inputs, targets = sequence[:, :-1], sequence[:, 1:]  # (batch, T + 1)
        mask = ops.less(positions[:, :-1], ops.expand_dims(lengths + 1, 1))  # (batch, T + 1)
        outputs, _ = self.encode(inputs, mask=mask)  # (batch, T + 1, units)
        log_probs = self.log_probabilities(outputs)  # (batch, T + 1, V)
        target_log_probs = ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1)[..., 0]  # (batch, T + 1)
        total = ops.sum(ops.where(mask, target_log_probs, 0.0), axis=1)  # (batch,)
        return total, lengths + 1

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "gating": self.gating,
            "cell": self.cell,
            "tie_weights": self.tie_weights,
            "project_output": self.project_output,
            "embedding_dropout": self.embedding_dropout_rate,
            "dropout": self.dropout,
            "output_dropout": self.output_dropout,
            "batch_size": self.batch_size,
            "pad_token_id": self.pad_token_id,
            "start_token_id": self.start_token_id,
            "end_token_id": self.end_token_id,
            "softmax": self.softmax,
            "cutoffs": self.cutoffs,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _check_arguments(vocabulary_size, embedding_dim, units, num_layers, tie_weights, project_output, batch_size,
                     rates, ids):
    """Validates the constructor's choices up front; returns the units of every layer."""
    for name, value in (("vocabulary_size", vocabulary_size), ("embedding_dim", embedding_dim),
                        ("num_layers", num_layers)):
        if not _positive_int(value):
            raise ValueError(
                f"Invalid value for argument `{name}` of LanguageModel: expected a positive int. Received: {name}={value!r}"
            )
    layer_units = [units] * num_layers if not isinstance(units, (list, tuple)) else list(units)
    if len(layer_units) != num_layers or not all(_positive_int(u) for u in layer_units):
        raise ValueError(
            f"Invalid value for argument `units` of LanguageModel: expected a positive int or a list of "
            f"num_layers={num_layers} positive ints. Received: units={units!r}"
        )
    if tie_weights and not project_output and layer_units[-1] != embedding_dim:
        raise ValueError(
            f"Invalid value for argument `tie_weights` of LanguageModel: tying the embedding and softmax "
            f"matrices needs the last LSTM layer's units ({layer_units[-1]}) to equal embedding_dim "
            f"({embedding_dim}). Give the last layer {embedding_dim} units, or pass project_output=True "
            f"(a linear projection to embedding_dim). Received: tie_weights={tie_weights!r}"
        )
    if batch_size is not None and not _positive_int(batch_size):
        raise ValueError(
            f"Invalid value for argument `batch_size` of LanguageModel: expected None (stateless) or a positive "
            f"int (the parallel streams of truncated BPTT). Received: batch_size={batch_size!r}"
        )
    for name, rate in rates.items():
        if not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(
                f"Invalid value for argument `{name}` of LanguageModel: expected a rate in [0, 1). "
                f"Received: {name}={rate!r}"
            )
    for name, value in ids.items():
        if value is None and name == "start_token_id":
            continue
        if not isinstance(value, numbers.Integral) or not 0 <= value < vocabulary_size:
            raise ValueError(
                f"Invalid value for argument `{name}` of LanguageModel: expected an id in [0, vocabulary_size="
                f"{vocabulary_size}). Received: {name}={value!r}"
            )
    if ids["end_token_id"] in (ids["pad_token_id"], ids["start_token_id"]):
        raise ValueError(
            f"Invalid value for argument `end_token_id` of LanguageModel: it must differ from the padding and "
            f"start ids, which are never predicted. Received: {ids}"
        )
    return layer_units


def _check_softmax(softmax, cutoffs):
    if softmax not in SOFTMAXES:
        raise ValueError(
            f"Invalid value for argument `softmax` of LanguageModel: expected one of {SOFTMAXES}. "
            f"Received: softmax={softmax!r}"
        )
    if cutoffs is not None and softmax != "adaptive":
        raise ValueError(
            f"Invalid value for argument `cutoffs` of LanguageModel: cutoffs are for softmax='adaptive' only. "
            f"Received: cutoffs={cutoffs!r} with softmax={softmax!r}"
        )


def _check_generation_arguments(max_length, temperature):
    """Checks Python numbers (tensors are checked where they are given, e.g. in the SavedModel)."""
    if isinstance(max_length, numbers.Number) and (
        not _positive_int(max_length) or max_length > MAX_GENERATED_TOKENS
    ):
        raise ValueError(
            f"Invalid value for argument `max_length`: expected an int in [1, {MAX_GENERATED_TOKENS}] "
            f"(the most tokens to generate). Received: max_length={max_length!r}"
        )
    if isinstance(temperature, numbers.Number) and (
        isinstance(temperature, bool) or not math.isfinite(temperature) or temperature <= 0
    ):
        raise ValueError(
            f"Invalid value for argument `temperature`: expected a finite number > 0 (use the greedy sampler "
            f"for the most probable tokens). Received: temperature={temperature!r}"
        )
