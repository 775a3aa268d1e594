"""The log-space parallel scan of `h_t = a_t h_{t-1} + b_t` (`a_t, b_t > 0`) shared by `MinGRU` and `MinLSTM`."""

import keras
from keras import ops

# log b at masked steps (b = 0 there): exp of it is 0 in float32, and its gradients stay finite (no -inf).
LOG_ZERO = -1e30


def log_g(x):
    """log g(x) for g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0): both branches are finite everywhere."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))


def log_space_scan(log_a, log_b, initial_state=None):
    """`h_t = a_t h_{t-1} + b_t` for every t, from `log a` and `log b` `(batch, time, units)`, in parallel.

    The pairs `(log A, log B)` compose with the associative operator
    `(A_1, B_1) . (A_2, B_2) = (A_1 + A_2, logaddexp(B_1 + A_2, B_2))`, so the scan gives
    `log A_t = sum_{j <= t} log a_j` and `log B_t = log sum_{k <= t} b_k prod_{k < j <= t} a_j`
    with no term larger than the result: stable for any length. The initial state enters in
    linear space, `h_t = A_t h_0 + B_t`, so it may be zero or negative.
    """

    if log_a.shape[1] is None:
        # TensorFlow's associative_scan needs a static length (generation reads prompts of any length).
        log_decay, log_total = _doubling_scan(log_a, log_b)
    elif keras.backend.backend() == "tensorflow":
        # Keras' TensorFlow associative_scan branches on the length's parity with `tf.cond`, which
        # onnxruntime cannot load after tf2onnx; the length is static here, so the branches are Python's.
        log_decay, log_total = _static_scan((log_a, log_b), log_a.shape[1])
    else:
        log_decay, log_total = ops.associative_scan(_combine, (log_a, log_b), axis=1)  # (batch, time, units) each
    # TensorFlow's scan loses the static rank when the batch size is unknown: restore the shape.
    shape = ops.shape(log_a)
    sequences = ops.exp(ops.reshape(log_total, shape))  # (batch, time, units)
    if initial_state is not None:
        decay = ops.exp(ops.reshape(log_decay, shape))  # (batch, time, units): prod_{j <= t} a_j
        sequences = sequences + decay * initial_state[:, None, :]  # (batch, time, units)
    return sequences


def _combine(first, second):
    """The associative operator on `(log A, log B)` pairs: `first` applied before `second`."""
    log_a_1, log_b_1 = first
    log_a_2, log_b_2 = second
    return log_a_1 + log_a_2, _log_add_exp(log_b_1 + log_a_2, log_b_2)


def _log_add_exp(x, y):
    """`log(exp(x) + exp(y))` for finite `x`, `y`, as `max + log(1 + exp(-|x - y|))`: `log1p` has no ONNX op.

    Where `exp(-|x - y|)` is below float32's resolution next to 1 the correction rounds to 0, an
    absolute error below 6e-8 in the log, the rounding of the result itself.
    """
    return ops.maximum(x, y) + ops.log(1.0 + ops.exp(-ops.abs(x - y)))


def _static_scan(elements, steps):
    """The inclusive scan of `elements` (a `(log A, log B)` pair of `(batch, steps, units)`) along axis 1.

    The odd-even recursion of Blelloch (1990), as Keras' `associative_scan`, for a length known when
    tracing: combine neighbouring pairs, scan the half-length sequence of pairs (the results at the
    odd positions), then combine each even position with the result before it.
    """
    if steps < 2:
        return elements
    evens = [x[:, 0:steps - 1:2] for x in elements]  # positions 0, 2, ..: (batch, steps // 2, units)
    odds = [x[:, 1::2] for x in elements]  # positions 1, 3, ..: (batch, steps // 2, units)
    odd_results = _static_scan(_combine(evens, odds), steps // 2)  # at positions 1, 3, ..
    later_evens = [x[:, 2::2] for x in elements]  # positions 2, 4, ..: (batch, (steps - 1) // 2, units)
    count = (steps - 1) // 2
    even_results = _combine([x[:, :count] for x in odd_results], later_evens)
    even_results = [ops.concatenate([x[:, :1], y], axis=1) for x, y in zip(elements, even_results)]  # 0, 2, ..
    return [_interleave(even, odd, steps) for even, odd in zip(even_results, odd_results)]


def _interleave(evens, odds, steps):
    """`(batch, steps, units)` from the values at the even `(batch, ceil(steps / 2), units)` and odd positions."""
    pairs = ops.stack([evens[:, :steps // 2], odds], axis=2)  # (batch, steps // 2, 2, units)
    merged = ops.reshape(pairs, (-1, 2 * (steps // 2), ops.shape(evens)[-1]))  # (batch, 2 * (steps // 2), units)
    return merged if steps % 2 == 0 else ops.concatenate([merged, evens[:, -1:]], axis=1)


def _doubling_scan(log_a, log_b):
    """The same inclusive scan for a length unknown when tracing (Hillis & Steele 1986: log2(T) passes).

    Pass `k` combines every step with the result `k` steps before it (the identity `(0, log 0)`
    before the start), doubling `k` until it covers the sequence.
    """
    steps = ops.shape(log_a)[1]

    def body(k, log_decay, log_total):
        earlier_decay = ops.concatenate([ops.zeros_like(log_decay[:, :k]), log_decay[:, :steps - k]], axis=1)
        earlier_total = ops.concatenate([ops.full_like(log_total[:, :k], LOG_ZERO), log_total[:, :steps - k]], axis=1)
        log_decay, log_total = _combine((earlier_decay, earlier_total), (log_decay, log_total))
        return k * 2, ops.reshape(log_decay, ops.shape(log_a)), ops.reshape(log_total, ops.shape(log_a))

    _, log_decay, log_total = ops.while_loop(lambda k, *_: k < steps, body, (1, log_a, log_b))
    return log_decay, log_total
