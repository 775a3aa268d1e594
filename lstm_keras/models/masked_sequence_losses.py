"""Losses and metrics over padded token sequences: padding positions never count.

`MaskedSparseCategoricalCrossentropy` (with label smoothing), `MaskedAccuracy` and `Perplexity`
take integer labels `(batch, T)` (padding `pad_token_id`, default 0) and logits `(batch, T, V)`,
and average over the real tokens of the whole batch (not per sequence), as the sequence models
of this project (translation, language modelling) report them.
"""

import keras
from keras import ops


def _token_log_probs(y_true, y_pred, pad_token_id):
    """Log-probabilities `(batch, T, V)`, the labels' negative log-likelihood `(batch, T)` and the mask."""
    labels = ops.cast(y_true, "int32")  # (batch, T)
    log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # (batch, T, V)
    nll = -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(labels, -1), axis=-1), -1)  # (batch, T)
    mask = ops.cast(ops.not_equal(labels, pad_token_id), "float32")  # (batch, T)
    return log_probs, nll, mask


@keras.saving.register_keras_serializable(package="lstm_keras")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Token cross-entropy from logits, averaged over the non-padding tokens of the batch.

    With label smoothing `ε` (Szegedy et al. 2016) the target distribution is
    `(1 - ε) one_hot(y) + ε / V`, so the loss of one token is

        (1 - ε) (-log p_y) + ε mean_v(-log p_v)

    and the batch loss is `Σ_t mask_t loss_t / Σ_t mask_t` with `mask_t = (y_t != pad_token_id)`.
    `call` returns per-token values `mask_t loss_t · n / Σ_t mask_t` (`n` tokens in the batch,
    padding included), whose plain mean, Keras' default reduction, is that masked mean: Keras
    itself then reduces it, which under a `tf.distribute` strategy also scales it by the number
    of replicas (a scalar from `call` would be left unscaled, and the replicas' summed gradients
    would be that many times too large).

    Args:
        label_smoothing: `ε` in [0, 1).
        pad_token_id: the label id that is excluded.
        name: the loss name.
        **kwargs: base `Loss` arguments.

    Call arguments:
        y_true: `(batch, T)` int labels.
        y_pred: `(batch, T, V)` logits.

    Returns:
        A scalar (with the default reduction).

    Example:
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> logits = keras.ops.zeros((1, 3, 4))  # uniform: -log p = log 4 at every token
    >>> round(float(loss(keras.ops.array([[2, 3, 0]]), logits)), 4)  # the padding is not counted
    1.3863
    """

    def __init__(self, label_smoothing=0.0, pad_token_id=0, name="masked_sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"Invalid value for argument `label_smoothing`: expected a number in [0, 1). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        self.label_smoothing = label_smoothing
        self.pad_token_id = pad_token_id

    def call(self, y_true, y_pred):
        log_probs, nll, mask = _token_log_probs(y_true, y_pred, self.pad_token_id)
        loss = nll  # (batch, T)
        if self.label_smoothing:
            smooth = -ops.mean(log_probs, axis=-1)  # (batch, T)
            loss = (1.0 - self.label_smoothing) * nll + self.label_smoothing * smooth
        tokens = ops.cast(ops.size(mask), loss.dtype)  # n, padding included
        return loss * mask * (tokens / ops.maximum(ops.sum(mask), 1.0))  # (batch, T): mean = masked mean

    def get_config(self):
        config = {"label_smoothing": self.label_smoothing, "pad_token_id": self.pad_token_id}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="lstm_keras")
class MaskedAccuracy(keras.metrics.Metric):
    """Token accuracy (argmax of the logits equals the label) over the non-padding tokens.

    Args:
        pad_token_id: the label id that is excluded.
        name: the metric name.
        **kwargs: base `Metric` arguments.

    Example:
    >>> metric = MaskedAccuracy()
    >>> logits = keras.ops.one_hot(keras.ops.array([[1, 2, 3]]), 4)  # predicts 1, 2, 3
    >>> metric.update_state(keras.ops.array([[1, 3, 0]]), logits)
    >>> float(metric.result())  # 1 of the 2 real tokens
    0.5
    """

    def __init__(self, pad_token_id=0, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_token_id = pad_token_id
        self.correct = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.cast(y_true, "int32")  # (batch, T)
        predictions = ops.cast(ops.argmax(y_pred, axis=-1), "int32")  # (batch, T)
        mask = ops.cast(ops.not_equal(labels, self.pad_token_id), "float32")  # (batch, T)
        self.correct.assign_add(ops.sum(ops.cast(ops.equal(labels, predictions), "float32") * mask))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id}


@keras.saving.register_keras_serializable(package="lstm_keras")
class Perplexity(keras.metrics.Metric):
    """Perplexity `exp(Σ_t mask_t (-log p_{y_t}) / Σ_t mask_t)` over the non-padding tokens.

    Computed from the logits without label smoothing, over every batch seen since the last
    reset (the mean negative log-likelihood per token, then the exponential).

    Args:
        pad_token_id: the label id that is excluded.
        name: the metric name.
        **kwargs: base `Metric` arguments.

    Example:
    >>> metric = Perplexity()
    >>> metric.update_state(keras.ops.array([[2, 3, 0]]), keras.ops.zeros((1, 3, 10)))
    >>> round(float(metric.result()), 4)  # uniform over 10 tokens
    10.0
    """

    def __init__(self, pad_token_id=0, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        # Lower is better: how Keras' own metrics tell callbacks (EarlyStopping, ...) in "auto" mode.
        self._direction = "down"
        self.pad_token_id = pad_token_id
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, nll, mask = _token_log_probs(y_true, y_pred, self.pad_token_id)
        self.update_from_nll(nll, mask)

    def update_from_nll(self, nll, mask):
        """Adds tokens' negative log-likelihoods `(...)` where the float `mask` `(...)` is 1 (a model's own loss)."""
        self.total.assign_add(ops.sum(nll * mask))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        return ops.exp(self.total / ops.maximum(self.count, 1.0))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id}
