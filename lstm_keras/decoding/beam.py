"""`BeamSampler`: batched beam search with the GNMT length and coverage penalties."""

import keras
from keras import ops
from keras import tree

from lstm_keras.decoding.sampler import Sampler
from lstm_keras.decoding.sampler import sequence_limits
from lstm_keras.layers.masking import MASKED_VALUE

# When a sequence's search is done (`BeamSampler`'s `stopping`).
STOPPING = ("bound", "current")
DEFAULT_STOPPING = "current"


def gnmt_length_penalty(length, alpha):
    """The length penalty of GNMT (Wu et al. 2016, eq. 14): `lp(Y) = ((5 + |Y|) / 6) ** alpha`.

    Example:
    >>> float(gnmt_length_penalty(7, 0.6))
    1.5157...
    """
    length = ops.cast(length, "float32")
    return ops.power((5.0 + length) / 6.0, alpha)


# The least coverage counted by `gnmt_coverage_penalty`: a source position that was never attended to costs
# log(COVERAGE_FLOOR) instead of minus infinity.
COVERAGE_FLOOR = 1e-10


def gnmt_coverage_penalty(attention, attention_mask=None):
    """The coverage term of GNMT (Wu et al. 2016, eq. 14), without its `beta`: `sum_i log(min(sum_j p_ij, 1))`.

    `p_ij` is the attention weight of the `j`-th generated token on source position `i`; a
    position whose weights add up to less than 1 ("not yet translated") lowers the term, one
    attended to in full adds 0, so the term is at most 0. Coverage below `COVERAGE_FLOOR` counts
    as `COVERAGE_FLOOR`. Positions outside `attention_mask` (padding) count for nothing.

    Args:
        attention: `(..., T, Tv)` the attention weights of each generated token (zeros after
            the end of a hypothesis).
        attention_mask: None (every position counts) or `(batch, Tv)` bool, broadcast over the
            axes between the batch and `T`.

    Returns:
        `(...)` float32, the term of every hypothesis.

    Example:
    >>> import numpy as np
    >>> attention = np.array([[[.5, .5, 0.], [.5, .25, .25]]], "float32")  # 2 tokens over 3 positions
    >>> round(float(gnmt_coverage_penalty(attention)[0]), 4)  # log(1) + log(.75) + log(.25)
    -1.674
    """
    coverage = ops.sum(ops.cast(attention, "float32"), axis=-2)  # (..., Tv)
    terms = ops.log(ops.clip(coverage, COVERAGE_FLOOR, 1.0))  # (..., Tv)
    if attention_mask is not None:
        mask = ops.cast(attention_mask, "float32")  # (batch, Tv)
        mask = ops.reshape(mask, (ops.shape(mask)[0],) + (1,) * (len(terms.shape) - 2) + (ops.shape(mask)[1],))
        terms = terms * mask
    return ops.sum(terms, axis=-1)  # (...)


@keras.saving.register_keras_serializable(package="lstm_keras")
class BeamSampler(Sampler):
    """Beam search: keeps the `num_beams` most probable hypotheses of every sequence.

    Batched beam search in the form of Tensor2Tensor / GNMT (Wu et al. 2016, "Google's Neural
    Machine Translation System", section 7). Every sequence of the batch has `num_beams` live
    hypotheses (all batched into one `next` call of `batch * num_beams` rows) and a pool of
    `num_beams` finished ones. At each step:

    1. every live hypothesis `y` is extended by every token `v`: `log P(y v) = log P(y) + log p(v)`;
    2. the `2 * num_beams` best extensions are kept (at most `num_beams` of them can end, so at
       least `num_beams` go on);
    3. the extensions that produced `end_token_id`, or reached the sequence's `max_length`, are
       finished: their score is the normalised `log P(Y) / lp(Y) + beta * cp(Y)` with the GNMT
       length penalty `lp(Y) = ((5 + |Y|) / 6) ** alpha` (`|Y|` counts the generated tokens,
       `[END]` included) and, for `coverage_penalty = beta > 0`, its coverage penalty
       `cp(Y) = sum_i log(min(sum_j p_ij, 1))` over the source positions `i` (`p_ij`: the
       attention of the `j`-th token on position `i`; `gnmt_coverage_penalty`), which favours
       translations that attended to every source word; they compete with the finished pool,
       whose best `num_beams` stay;
    4. the best `num_beams` extensions that did not finish become the live hypotheses; the
       state that `next` returned is reordered to follow them.

    A sequence is done when no live hypothesis can still beat its best finished one (with
    `return_all_beams`: its worst of `num_beams` finished ones), judged by `stopping`:

    - `"bound"`: by every score it can still reach. The log-probability of a hypothesis only
      falls as it grows and, for `alpha >= 0`, the penalty is largest at `max_length`, so
      `log P(y) / lp(max_length)` bounds them (the coverage term is at most 0): the search then
      returns exactly what running to `max_length` would, but a sequence whose finished
      hypotheses are short keeps its live ones going almost to `max_length`.
    - `"current"` (the default): by its score at its current length, `log P(y) / lp(|y|)` plus
      its coverage term so far (as Hugging Face's `generate` with `early_stopping=False`): a live
      hypothesis that would gain from the length penalty by growing may be cut, for fewer steps.
      On Multi30k de→en (`BENCHMARKS.md`) it gave the same test BLEU as `"bound"` in 23% less
      time.

    The loop stops when every sequence is done or at the largest `max_length`. The result is
    the finished hypothesis with the best normalised score. With `num_beams=1` the live
    hypothesis follows the greedy path, but an `[END]` among the two best extensions of a step
    joins the finished pool, and may outscore the greedy translation.

    Everything runs in one compiled `keras.ops.while_loop`; `next` and its state are those of
    `Sampler` (see there), the state being repeated `num_beams` times per sequence and
    reordered with `ops.take` at every step, except the parts that `next` returns unchanged
    (the very tensor it received, e.g. the encoder outputs a decoder attends to): all the
    hypotheses of a sequence hold the same copy of those, so they are never reordered.

    Args:
        num_beams: positive int, the beam size `k`.
        length_penalty: `alpha >= 0` of the GNMT length penalty (0: plain log-probability,
            which favours short outputs; GNMT uses 0.6 to 0.7).
        return_all_beams: whether to return the `num_beams` finished hypotheses of every
            sequence (best first) instead of the best one.
        stopping: `"bound"` or `"current"`, when a sequence is done (above).
        coverage_penalty: `beta >= 0` of the GNMT coverage penalty (0: off; GNMT uses 0.2). It
            needs the attention that `next` returns, `(batch, Tv)` per step.
        **kwargs: arguments of `Sampler` (temperature, no_repeat_ngram_size).

    Call arguments: those of `Sampler`; `attention_mask` `(batch, Tv)` names the source positions
        the coverage penalty counts (None: all of them).

    Returns:
        `(token_ids, attention)` as in `Sampler`: `(batch, T)` and `(batch, T, ...)` for the best
        hypothesis; with `return_all_beams`, `(batch, num_beams, T)` and
        `(batch, num_beams, T, ...)`.

    Example:
    >>> import numpy as np
    >>> # Markov chain over [PAD, END, A, B]: after [START] (id 0 here) A is likelier than B,
    >>> # but A is followed by a near coin toss while B is almost surely followed by [END].
    >>> table = np.log(np.array([
    ...     [1e-9, 1e-9, .6, .4], [1e-9, 1., 1e-9, 1e-9], [1e-9, .3, .36, .34], [1e-9, .9, .05, .05],
    ... ], "float32"))
    >>> def next(token, state):
    ...     return keras.ops.take(table, token, axis=0), state, None
    >>> start = keras.ops.zeros((1,), "int32")
    >>> tokens, _ = BeamSampler(num_beams=2, length_penalty=0.0)(next, start, {}, 3, end_token_id=1)
    >>> keras.ops.convert_to_numpy(tokens).tolist()  # P = .4 * .9 = .36
    [[3, 1, 0]]
    >>> from lstm_keras.decoding import GreedySampler
    >>> tokens, _ = GreedySampler()(next, start, {}, 3, end_token_id=1)
    >>> keras.ops.convert_to_numpy(tokens).tolist()  # P = .6 * .36 * .36 < .36
    [[2, 2, 2]]
    """

    def __init__(self, num_beams=5, length_penalty=0.6, return_all_beams=False, stopping=DEFAULT_STOPPING,
                 coverage_penalty=0.0, **kwargs):
        super().__init__(**kwargs)
        if stopping not in STOPPING:
            raise ValueError(
                f"Invalid value for argument `stopping` of BeamSampler: expected one of {STOPPING}. "
                f"Received: stopping={stopping!r}"
            )
        self.stopping = stopping
        if not isinstance(num_beams, int) or isinstance(num_beams, bool) or num_beams < 1:
            raise ValueError(
                f"Invalid value for argument `num_beams` of BeamSampler: expected a positive int. "
                f"Received: num_beams={num_beams!r}"
            )
        if length_penalty is None or length_penalty < 0:
            raise ValueError(
                f"Invalid value for argument `length_penalty` of BeamSampler: expected a number >= 0 "
                f"(the GNMT alpha). Received: length_penalty={length_penalty!r}"
            )
        if coverage_penalty is None or coverage_penalty < 0:
            raise ValueError(
                f"Invalid value for argument `coverage_penalty` of BeamSampler: expected a number >= 0 "
                f"(the GNMT beta). Received: coverage_penalty={coverage_penalty!r}"
            )
        self.num_beams = num_beams
        self.length_penalty = float(length_penalty)
        self.return_all_beams = bool(return_all_beams)
        self.coverage_penalty = float(coverage_penalty)

    @property
    def needs_attention(self):
        """True with a coverage penalty."""
        return self.coverage_penalty > 0

    def __call__(self, next, start_tokens, state, max_length, end_token_id=None, pad_token_id=0, length_bound=None,
                 attention_mask=None):
        k = self.num_beams
        start_tokens = ops.cast(start_tokens, "int32")  # (batch,)
        batch_size = ops.shape(start_tokens)[0]
        limits, width = sequence_limits(max_length, batch_size, length_bound)  # (batch,), T

        # Every hypothesis starts from the sequence's state: repeat each row k times.
        state = tree.map_structure(lambda x: ops.repeat(x, k, axis=0), state)  # (batch * k, ...)
        tokens = ops.repeat(start_tokens, k, axis=0)  # (batch * k,)

        # The first step runs before the loop: it tells the shape of the attention to record,
        # and which parts of the state `next` passes through unchanged (never reordered).
        logits, new_state, attention = next(tokens, state)
        changing = [new is not old for new, old in zip(tree.flatten(new_state), tree.flatten(state))]
        state = new_state
        has_attention = attention is not None
        if self.needs_attention and (not has_attention or len(attention.shape) != 2):
            raise ValueError(
                "BeamSampler's coverage penalty needs the attention weights over the source, `(batch, Tv)`, "
                f"from `next` at every step. Received: {None if attention is None else tuple(attention.shape)}"
            )
        if has_attention:
            tail = tuple(ops.shape(attention)[1:])
            attention_buffer = ops.zeros((batch_size, k, width) + tail, dtype=attention.dtype)  # (batch, k, T, ...)
        else:
            attention_buffer = ops.zeros((batch_size, k, 1))  # a placeholder: loop variables cannot be None
        pad_tokens = ops.full((batch_size, k, width), pad_token_id, dtype="int32")  # (batch, k, T)
        # Only the first hypothesis is live at the start: the others are copies of it.
        first_only = ops.convert_to_tensor([[0.0] + [MASKED_VALUE] * (k - 1)], "float32")  # (1, k)
        beams = {
            "alive_log_probs": ops.tile(first_only, (batch_size, 1)),  # (batch, k)
            "alive_tokens": pad_tokens,
            "alive_attention": attention_buffer,
            "finished_scores": ops.full((batch_size, k), MASKED_VALUE, dtype="float32"),  # (batch, k)
            "finished_flags": ops.zeros((batch_size, k), dtype="bool"),  # (batch, k)
            "finished_tokens": pad_tokens,
            "finished_attention": attention_buffer,
            "done": ops.zeros((batch_size,), dtype="bool"),  # (batch,)
        }
        update = lambda step, beams, logits, state, attention: self._update(  # noqa: E731
            step, beams, logits, state, attention, limits, end_token_id, has_attention, changing, attention_mask
        )
        beams, tokens, state = update(0, beams, logits, state, attention)

        def cond(step, beams, tokens, state):
            return ops.logical_and(step < width, ops.logical_not(ops.all(beams["done"])))

        def body(step, beams, tokens, state):
            logits, state, attention = next(tokens, state)
            beams, tokens, state = update(step, beams, logits, state, attention)
            return step + 1, beams, tokens, state

        step = ops.convert_to_tensor(1, "int32")
        _, beams, _, _ = ops.while_loop(cond, body, (step, beams, tokens, state))

        # Finished pools are sorted best first; every sequence has finished hypotheses by now
        # (all of them finish at their max_length), unless it stopped early for having some.
        tokens, attention = beams["finished_tokens"], beams["finished_attention"]
        if not self.return_all_beams:
            tokens, attention = tokens[:, 0], attention[:, 0]  # (batch, T), (batch, T, ...)
        return tokens, attention if has_attention else None

    def score(self, log_probs, length, attention, attention_mask):
        """The normalised score `log P / lp(length) + beta * cp` of hypotheses `(batch, n)` (attention `(batch, n, T, Tv)`)."""
        scores = log_probs / gnmt_length_penalty(length, self.length_penalty)  # (batch, n)
        if self.needs_attention:
            scores = scores + self.coverage_penalty * gnmt_coverage_penalty(attention, attention_mask)
        return scores

    def _update(self, step, beams, logits, state, attention, limits, end_token_id, has_attention, changing,
                attention_mask):
        k = self.num_beams
        vocabulary_size = logits.shape[-1]
        width = ops.shape(beams["alive_tokens"])[2]
        logits = self.guard(logits, ops.reshape(beams["alive_tokens"], (-1, width)), step)  # (batch * k, V)
        log_probs = self.compute_log_probabilities(logits)  # (batch * k, V)
        log_probs = ops.reshape(log_probs, (-1, k, vocabulary_size))  # (batch, k, V)

        # 1-2. Extend every live hypothesis by every token; keep the 2k best extensions.
        candidates = ops.expand_dims(beams["alive_log_probs"], 2) + log_probs  # (batch, k, V)
        candidates = ops.reshape(candidates, (-1, k * vocabulary_size))  # (batch, k * V)
        top_log_probs, top_index = ops.top_k(candidates, min(2 * k, k * vocabulary_size))  # (batch, n)
        top_index = ops.cast(top_index, "int32")
        top_beam = top_index // vocabulary_size  # (batch, n): the hypothesis extended
        top_token = top_index % vocabulary_size  # (batch, n): by this token
        top_tokens = _gather_beams(beams["alive_tokens"], top_beam)  # (batch, n, T)
        top_tokens = ops.slice_update(top_tokens, [0, 0, step], ops.expand_dims(top_token, 2))
        top_attention = beams["alive_attention"]
        if has_attention:
            tail = tuple(ops.shape(attention)[1:])
            attention = ops.reshape(attention, (-1, k) + tail)  # (batch, k, ...)
            step_attention = _gather_beams(attention, top_beam)  # (batch, n, ...)
            top_attention = _gather_beams(top_attention, top_beam)  # (batch, n, T, ...)
            start = [0, 0, step] + [0] * len(tail)
            top_attention = ops.slice_update(top_attention, start, ops.expand_dims(step_attention, 2))

        # 3. Extensions that end (or reach their sequence's limit) join the finished pool.
        length = step + 1
        possible = top_log_probs > MASKED_VALUE / 2  # (batch, n): not an extension of an empty slot
        ends = ops.expand_dims(ops.greater_equal(length, limits), 1)  # (batch, 1)
        if end_token_id is not None:
            ends = ops.logical_or(ends, ops.equal(top_token, end_token_id))  # (batch, n)
        top_finished = ops.logical_and(possible, ends)  # (batch, n)
        new_scores = self.score(top_log_probs, length, top_attention, attention_mask)  # (batch, n)
        scores = ops.concatenate(
            [beams["finished_scores"], ops.where(top_finished, new_scores, MASKED_VALUE)], axis=1
        )  # (batch, k + n)
        finished_scores, keep = ops.top_k(scores, k)  # (batch, k)
        keep = ops.cast(keep, "int32")
        flags = ops.concatenate([beams["finished_flags"], top_finished], axis=1)  # (batch, k + n)
        finished_flags = ops.take_along_axis(flags, keep, axis=1)  # (batch, k)
        finished_tokens = _gather_beams(ops.concatenate([beams["finished_tokens"], top_tokens], 1), keep)
        finished_attention = beams["finished_attention"]
        if has_attention:
            finished_attention = _gather_beams(ops.concatenate([finished_attention, top_attention], 1), keep)

        # 4. The best k extensions that did not finish go on; the state follows them.
        alive_log_probs, alive = ops.top_k(ops.where(top_finished, MASKED_VALUE, top_log_probs), k)  # (batch, k)
        alive = ops.cast(alive, "int32")
        alive_tokens = _gather_beams(top_tokens, alive)  # (batch, k, T)
        alive_attention = _gather_beams(top_attention, alive) if has_attention else top_attention
        parent = ops.take_along_axis(top_beam, alive, axis=1)  # (batch, k)
        leaves = [_reorder(x, parent, k) if moves else x for x, moves in zip(tree.flatten(state), changing)]
        state = tree.pack_sequence_as(state, leaves)  # (batch * k, ...)
        tokens = ops.reshape(ops.take_along_axis(top_token, alive, axis=1), (-1,))  # (batch * k,)

        # Done: no live hypothesis can beat the finished one(s) any more.
        if self.stopping == "bound":  # the coverage term is at most 0
            best_reachable = alive_log_probs[:, 0] / gnmt_length_penalty(limits, self.length_penalty)  # (batch,)
        else:
            best_reachable = ops.max(self.score(alive_log_probs, length, alive_attention, attention_mask), axis=1)
        slot = k - 1 if self.return_all_beams else 0
        done = ops.logical_and(finished_flags[:, slot], best_reachable < finished_scores[:, slot])  # (batch,)

        beams = {
            "alive_log_probs": alive_log_probs,
            "alive_tokens": alive_tokens,
            "alive_attention": alive_attention,
            "finished_scores": finished_scores,
            "finished_flags": finished_flags,
            "finished_tokens": finished_tokens,
            "finished_attention": finished_attention,
            "done": ops.logical_or(beams["done"], done),
        }
        return beams, tokens, state

    def get_config(self):
        config = {
            "num_beams": self.num_beams,
            "length_penalty": self.length_penalty,
            "return_all_beams": self.return_all_beams,
            "stopping": self.stopping,
            "coverage_penalty": self.coverage_penalty,
        }
        return {**super().get_config(), **config}


def _gather_beams(x, index):
    """Picks hypotheses per sequence: `x` `(batch, m, ...)`, `index` `(batch, j)` -> `(batch, j, ...)`."""
    batch_size, m = ops.shape(x)[0], ops.shape(x)[1]
    tail = tuple(ops.shape(x)[2:])
    flat_index = index + ops.expand_dims(ops.arange(batch_size, dtype="int32") * m, 1)  # (batch, j)
    flat = ops.reshape(x, (-1,) + tail)  # (batch * m, ...)
    picked = ops.take(flat, ops.reshape(flat_index, (-1,)), axis=0)  # (batch * j, ...)
    return ops.reshape(picked, (batch_size, index.shape[1]) + tail)  # (batch, j, ...)


def _reorder(x, parent, k):
    """Reorders a state tensor `(batch * k, ...)` so that hypothesis `i` takes the state of `parent[:, i]`."""
    tail = tuple(ops.shape(x)[1:])
    x = ops.reshape(x, (-1, k) + tail)  # (batch, k, ...)
    return ops.reshape(_gather_beams(x, parent), (-1,) + tail)  # (batch * k, ...)
