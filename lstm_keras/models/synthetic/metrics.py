"""The scores of the generated tasks: accuracy (or squared error) over the scored positions, by length bucket."""

import numpy as np

from lstm_keras.datasets.synthetic import generate
from lstm_keras.datasets.synthetic import scaled_score


def scored_results(task, predictions, targets, weights):
    """Accuracy (classes) or mean squared error (regression) over the positions with weight 1, and the scaled score.

    Args:
        task: a `Task`.
        predictions: `(n, T, classes)` logits, or `(n, T, 1)` numbers.
        targets: `(n, T)` classes or numbers.
        weights: `(n, T)`, 1.0 at the scored positions.

    Returns:
        A dict: `accuracy` (or `mse`), `scaled` (1 perfect, 0 chance) and `scored` (positions).

    Example:
    >>> from lstm_keras.datasets.synthetic import TASKS
    >>> logits = np.array([[[0.0, 1.0], [1.0, 0.0]]])  # predicts 1, then 0
    >>> scored_results(TASKS["parity"], logits, np.array([[0, 1]]), np.array([[0.0, 1.0]]))
    {'accuracy': 0.0, 'scaled': -1.0, 'scored': 1}
    """
    scored = np.asarray(weights) > 0  # (n, T)
    if task.num_classes:
        correct = np.argmax(predictions, axis=-1) == np.asarray(targets)  # (n, T)
        accuracy = float(correct[scored].mean())
        return {"accuracy": accuracy, "scaled": scaled_score(task, accuracy=accuracy), "scored": int(scored.sum())}
    errors = (np.asarray(predictions)[..., 0] - np.asarray(targets)) ** 2  # (n, T)
    mse = float(errors[scored].mean())
    return {"mse": mse, "scaled": scaled_score(task, mse=mse), "scored": int(scored.sum())}


def bucket_name(lengths):
    """`"41-64"` for the lengths (41, 64), `"100"` for (100, 100)."""
    return str(lengths[0]) if lengths[0] == lengths[1] else f"{lengths[0]}-{lengths[1]}"


def evaluate_by_length(model, task, buckets, examples, rng, batch_size=64):
    """The results of `model` on fresh sequences of each length bucket (`scored_results`), by `bucket_name`.

    Args:
        model: a model of `build_synthetic_model`.
        task: a `Task`.
        buckets: `(shortest, longest)` pairs.
        examples: the sequences of each bucket.
        rng: a `np.random.Generator` (or a seed) for the sequences.
        batch_size: sequences per prediction batch.
    """
    rng = np.random.default_rng(rng)
    results = {}
    for lengths in buckets:
        inputs, targets, weights = generate(task, examples, tuple(lengths), rng)
        predictions = model.predict(inputs, batch_size=batch_size, verbose=0)
        results[bucket_name(lengths)] = scored_results(task, predictions, targets, weights)
    return results
