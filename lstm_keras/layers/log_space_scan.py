"""The log-space parallel scan of `h_t = a_t h_{t-1} + b_t` (`a_t, b_t > 0`) shared by `MinGRU` and `MinLSTM`."""

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
    return log_a_1 + log_a_2, ops.logaddexp(log_b_1 + log_a_2, log_b_2)


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
