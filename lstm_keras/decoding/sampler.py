"""`Sampler`: the base of the decoding strategies; it owns the generation loop."""

import keras
from keras import ops

from lstm_keras.layers.masking import MASKED_VALUE


@keras.saving.register_keras_serializable(package="lstm_keras")
class Sampler:
    """Base class of the decoding strategies (keras-hub samplers style).

    A sampler turns a step function into sequences. The model supplies

        next(token, state) -> (logits, new_state, attention)

    with `token` the previous token of every sequence `(batch,)` int32, `state` any nested
    structure of tensors whose leaves all have the batch as their first axis, `logits`
    `(batch, vocabulary)` for the next token, `new_state` of the same structure and shapes, and
    `attention` a `(batch, ...)` tensor recorded at every step (e.g. the attention weights over
    the source, `(batch, Tv)`) or None. The sampler knows nothing else about the model: whatever
    the step needs that does not change (an encoder's outputs, a source mask) travels in `state`.

    The base owns the loop, a compiled `keras.ops.while_loop` (a `tf.while_loop` inside a
    `tf.function` on TensorFlow): at each step it calls `next`, turns the logits into
    probabilities (`compute_probabilities`, softmax with a temperature) and lets the subclass
    pick the next token (`get_next_token`: greedy takes the argmax, random samplers draw). The
    randomness a sampler needs is drawn once, before the loop (`draw_noise`, one uniform number
    per sequence and step): a loop body compiled by JAX cannot move a seed generator on.
    A sequence is finished once it has produced `end_token_id` or reached its own maximum
    length; finished sequences are padded with `pad_token_id` and their attention with zeros.
    The loop stops when every sequence is finished. Strategies that must change the loop itself
    (beam search) override `__call__`.

    With `no_repeat_ngram_size=n`, a token that would complete an n-gram the sequence already
    holds is never picked (its logit is masked: `ban_repeated_ngrams`): a guard against the loops
    a weak model falls into ("very very busy very very busy ..."), as in fairseq and Hugging Face.

    Args:
        temperature: logits are divided by it before the softmax (1.0: unchanged).
        no_repeat_ngram_size: 0 (off) or `n >= 1`: no n-gram of the generated tokens occurs twice.

    Call arguments:
        next: the step function (see above).
        start_tokens: `(batch,)` int, the first input token of every sequence (e.g. `[START]`).
        state: the initial state (nested tensors, batch first).
        max_length: the most tokens to generate per sequence, `[END]` included: a Python int, a
            scalar or a `(batch,)` int tensor (one limit per sequence, e.g. relative to the
            source length). Must be at least 1.
        end_token_id: the id that finishes a sequence, or None (generate `max_length` tokens).
        pad_token_id: the id written after the end of a sequence.
        length_bound: None, or a Python int at least as large as every `max_length`: the width
            `T` of the outputs. By default `T` is the largest `max_length`, which is a dynamic
            shape when the limits are computed from the inputs; `jax.jit` needs a static one.
        attention_mask: None, or `(batch, Tv)` bool: the positions the attention may fall on
            (the source's non-padding). Only a sampler that scores the attention reads it
            (`needs_attention`: beam search's coverage penalty).

    Returns:
        A tuple `(token_ids, attention)`: `token_ids` `(batch, T)` int32, the generated tokens
        (not the start token), `[END]` included where one was produced, padded after it, with
        `T` the largest `max_length` (or `length_bound`); `attention` `(batch, T, ...)`, the
        `attention` that `next` returned at each step (zeros after the end), or None if `next`
        returns None.

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .1, .8], [.1, .1, .8], [.1, .8, .1]], "float32"))
    >>> def next(token, state):  # a Markov chain: the logits depend on the last token only
    ...     return keras.ops.take(table, token, axis=0), state, None
    >>> from lstm_keras.decoding import GreedySampler
    >>> tokens, _ = GreedySampler()(next, keras.ops.zeros((1,), "int32"), {}, max_length=4,
    ...                              end_token_id=1)
    >>> keras.ops.convert_to_numpy(tokens).tolist()
    [[2, 1, 0, 0]]
    """

    def __init__(self, temperature=1.0, no_repeat_ngram_size=0):
        if not temperature or temperature <= 0:
            raise ValueError(
                f"Invalid value for argument `temperature` of {self.__class__.__name__}: expected a "
                f"positive number. Received: temperature={temperature!r}"
            )
        if not isinstance(no_repeat_ngram_size, int) or isinstance(no_repeat_ngram_size, bool) or (
                no_repeat_ngram_size < 0):
            raise ValueError(
                f"Invalid value for argument `no_repeat_ngram_size` of {self.__class__.__name__}: expected an "
                f"int >= 0 (0: off). Received: no_repeat_ngram_size={no_repeat_ngram_size!r}"
            )
        self.temperature = temperature
        self.no_repeat_ngram_size = no_repeat_ngram_size

    @property
    def needs_attention(self):
        """Whether the sampler scores the attention that `next` returns (the model must then return it)."""
        return False

    def __call__(self, next, start_tokens, state, max_length, end_token_id=None, pad_token_id=0, length_bound=None,
                 attention_mask=None):
        start_tokens = ops.cast(start_tokens, "int32")  # (batch,)
        batch_size = ops.shape(start_tokens)[0]
        limits, width = sequence_limits(max_length, batch_size, length_bound)  # (batch,), T
        noise = self.draw_noise(batch_size, width)  # (batch, T) or None

        def update(step, tokens, attention_buffer, finished, logits, attention):
            # One step: pick the token, record it and its attention, mark the finished sequences.
            step_noise = None if noise is None else ops.take(noise, step, axis=1)  # (batch,)
            logits = self.guard(logits, tokens, step)
            probabilities = self.compute_probabilities(logits)  # (batch, V)
            token = ops.cast(self.get_next_token(probabilities, step_noise), "int32")  # (batch,)
            token = ops.where(finished, pad_token_id, token)
            tokens = ops.slice_update(tokens, [0, step], ops.expand_dims(token, 1))  # (batch, T)
            if attention is not None:
                kept = ops.reshape(ops.logical_not(finished), (-1,) + (1,) * (len(attention.shape) - 1))
                attention = ops.where(kept, attention, ops.zeros_like(attention))  # (batch, ...)
                start = [0, step] + [0] * (len(attention.shape) - 1)
                attention_buffer = ops.slice_update(attention_buffer, start, ops.expand_dims(attention, 1))
            finished = ops.logical_or(finished, ops.greater_equal(step + 1, limits))
            if end_token_id is not None:
                finished = ops.logical_or(finished, ops.equal(token, end_token_id))
            return tokens, attention_buffer, finished, token

        # The first step runs before the loop: it tells the shape of the attention to record.
        logits, state, attention = next(start_tokens, state)
        has_attention = attention is not None
        tokens = ops.full((batch_size, width), pad_token_id, dtype="int32")  # (batch, T)
        # Loop variables cannot be None: without attention a tiny placeholder stands in.
        attention_buffer = _attention_buffer(attention, batch_size, width) if has_attention else ops.zeros((1,))
        finished = ops.zeros((batch_size,), dtype="bool")  # (batch,)
        tokens, attention_buffer, finished, token = update(0, tokens, attention_buffer, finished, logits, attention)

        def cond(step, tokens, attention_buffer, finished, token, state):
            return ops.logical_and(step < width, ops.logical_not(ops.all(finished)))

        def body(step, tokens, attention_buffer, finished, token, state):
            logits, state, attention = next(token, state)
            tokens, attention_buffer, finished, token = update(
                step, tokens, attention_buffer, finished, logits, attention
            )
            return step + 1, tokens, attention_buffer, finished, token, state

        step = ops.convert_to_tensor(1, "int32")
        _, tokens, attention_buffer, *_ = ops.while_loop(
            cond, body, (step, tokens, attention_buffer, finished, token, state)
        )
        return tokens, attention_buffer if has_attention else None

    def guard(self, logits, tokens, step):
        """The logits `(rows, V)` with the repetition guard applied (`tokens` `(rows, T)`: generated before `step`)."""
        if not self.no_repeat_ngram_size:
            return logits
        return ban_repeated_ngrams(logits, tokens, step, self.no_repeat_ngram_size)

    def compute_probabilities(self, logits):
        """Turns logits `(batch, vocabulary)` into probabilities (float32 softmax with the temperature)."""
        logits = ops.cast(logits, "float32")
        return ops.softmax(logits / self.temperature, axis=-1)

    def compute_log_probabilities(self, logits):
        """Log-probabilities `(batch, vocabulary)` (float32 log-softmax with the temperature)."""
        logits = ops.cast(logits, "float32")
        return ops.log_softmax(logits / self.temperature, axis=-1)

    def draw_noise(self, batch_size, width):
        """The random numbers of one call, `(batch, T)` uniforms in [0, 1), or None (deterministic samplers)."""
        return None

    def get_next_token(self, probabilities, noise=None):
        """Picks the next token `(batch,)` from the probabilities `(batch, vocabulary)`.

        `noise` is this step's column of `draw_noise` `(batch,)`, or None (a random sampler
        called outside the loop then draws its own).
        """
        raise NotImplementedError(f"{self.__class__.__name__} must implement `get_next_token`.")

    def get_config(self):
        return {"temperature": self.temperature, "no_repeat_ngram_size": self.no_repeat_ngram_size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def ban_repeated_ngrams(logits, tokens, step, n):
    """Masks the logit of every token that would repeat an n-gram of `tokens` (a no-repeat n-gram guard).

    The next token, at position `step`, follows the last `n - 1` tokens `tokens[:, step-n+1:step]`;
    wherever those `n - 1` tokens occurred before, followed by a token `v`, picking `v` again would
    repeat an n-gram, so its logit becomes `MASKED_VALUE`. With `n = 1` no token occurs twice.

    Args:
        logits: `(rows, V)`, the next token's logits.
        tokens: `(rows, T)` int32, the tokens generated so far (positions `< step`; later ones ignored).
        step: a scalar int, the position of the next token.
        n: the n-gram size, `n >= 1`.

    Returns:
        The logits `(rows, V)` in float32, masked.

    Example:
    >>> tokens = keras.ops.convert_to_tensor([[5, 6, 5, 0]], "int32")  # next: position 3, after "5"
    >>> logits = ban_repeated_ngrams(keras.ops.zeros((1, 8)), tokens, 3, n=2)  # "5 6" occurred
    >>> (keras.ops.convert_to_numpy(logits)[0] < 0).nonzero()[0].tolist()
    [6]
    """
    logits, tokens = ops.cast(logits, "float32"), ops.cast(tokens, "int32")
    width = ops.shape(tokens)[1]  # T: a Python int, or a tensor in a TensorFlow graph
    windows = max(width - n + 1, 0) if isinstance(width, int) else ops.maximum(width - n + 1, 0)  # n-grams held
    following = tokens[:, n - 1:]  # (rows, windows): the last token of each n-gram
    match = ops.ones_like(following, dtype="bool")  # (rows, windows)
    for i in range(n - 1):  # the n-gram's first n - 1 tokens equal the last n - 1 generated ones
        latest = ops.take(tokens, ops.maximum(step - n + 1 + i, 0), axis=1)  # (rows,)
        match = ops.logical_and(match, ops.equal(tokens[:, i:i + windows], ops.expand_dims(latest, 1)))
    complete = ops.arange(windows, dtype="int32") + n - 1 < step  # (windows,): its last token is generated
    banned = ops.cast(ops.logical_and(match, ops.expand_dims(complete, 0)), logits.dtype)  # (rows, windows)
    rows = ops.broadcast_to(ops.expand_dims(ops.arange(ops.shape(tokens)[0], dtype="int32"), 1),
                            ops.shape(following))  # (rows, windows)
    indices = ops.reshape(ops.stack([rows, following], axis=-1), (-1, 2))  # (rows * windows, 2)
    hits = ops.scatter_update(ops.zeros_like(logits), indices, ops.reshape(banned, (-1,)), reduction="max")
    return ops.where(hits > 0, MASKED_VALUE, logits)  # (rows, V)


def sequence_limits(max_length, batch_size, length_bound=None):
    """The maximum length of every sequence and the output width `T`.

    Args:
        max_length: an int, a scalar or a `(batch,)` vector.
        batch_size: the number of sequences.
        length_bound: None (`T` is the largest limit, at least 1, even for no rows) or a static
            int `T` (the limits are then capped at it).

    Returns:
        `(limits, width)`: `(batch,)` int32 and `T`.
    """
    limits = ops.cast(ops.convert_to_tensor(max_length), "int32")
    if len(limits.shape) > 1:
        raise ValueError(
            f"Invalid `max_length`: expected an int, a scalar or a `(batch,)` vector. "
            f"Received a tensor of shape {tuple(limits.shape)}"
        )
    limits = ops.broadcast_to(limits, (batch_size,))  # (batch,)
    if length_bound is None:
        return limits, ops.max(ops.concatenate([limits, ops.ones((1,), "int32")]))
    if not isinstance(length_bound, int) or isinstance(length_bound, bool) or length_bound < 1:
        raise ValueError(f"Invalid `length_bound`: expected a positive Python int or None. Received: {length_bound!r}")
    return ops.minimum(limits, length_bound), length_bound


def _attention_buffer(attention, batch_size, width):
    """A zero buffer `(batch, T, ...)` for the attention of every step, or None."""
    if attention is None:
        return None
    tail = tuple(ops.shape(attention)[1:])
    return ops.zeros((batch_size, width) + tail, dtype=attention.dtype)  # (batch, T, ...)
