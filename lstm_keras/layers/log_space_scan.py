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

    def combine(first, second):
        log_a_1, log_b_1 = first
        log_a_2, log_b_2 = second
        return log_a_1 + log_a_2, ops.logaddexp(log_b_1 + log_a_2, log_b_2)

    log_decay, log_total = ops.associative_scan(combine, (log_a, log_b), axis=1)  # (batch, time, units) each
    # TensorFlow's scan loses the static rank when the batch size is unknown: restore the shape.
    shape = ops.shape(log_a)
    sequences = ops.exp(ops.reshape(log_total, shape))  # (batch, time, units)
    if initial_state is not None:
        decay = ops.exp(ops.reshape(log_decay, shape))  # (batch, time, units): prod_{j <= t} a_j
        sequences = sequences + decay * initial_state[:, None, :]  # (batch, time, units)
    return sequences
