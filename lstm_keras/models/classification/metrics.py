"""Classification metrics in NumPy: confusion matrix, accuracy, per-class precision/recall/F1, macro-F1.

The definitions, for a class `c` with `TP` true positives (labelled and predicted `c`), `FP`
false positives (predicted `c`, labelled otherwise) and `FN` false negatives (labelled `c`,
predicted otherwise):

    precision_c = TP / (TP + FP)        (0 when nothing was predicted `c`)
    recall_c    = TP / (TP + FN)        (0 when nothing is labelled `c`)
    F1_c        = 2 precision_c recall_c / (precision_c + recall_c)   (0 when both are 0)
    macro-F1    = the mean of F1_c over the classes

(the zero conventions of scikit-learn's `zero_division=0`).
"""

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts `matrix[true, predicted]` for integer labels.

    Args:
        y_true: `(n,)` integer labels in `[0, num_classes)`.
        y_pred: `(n,)` integer predictions in `[0, num_classes)`.
        num_classes: the number of classes.

    Returns:
        An int64 array `(num_classes, num_classes)`: rows are the true classes, columns the
        predicted ones.

    Example:
    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], 3)
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    matrix = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def classification_report(y_true, y_pred, label_names):
    """Accuracy, per-class precision / recall / F1 and macro averages.

    Single-label: `y_true` and `y_pred` are `(n,)` integer labels, and accuracy is the share of
    correct predictions. Multi-label: both are `(n, C)` 0/1 (multi-hot) arrays; each class is
    scored as its own yes/no decision and accuracy is the share of examples whose labels are
    all right (exact match).

    Args:
        y_true: the labels.
        y_pred: the predictions, same form as `y_true`.
        label_names: the `C` class names.

    Returns:
        A dict: `accuracy`, `macro_precision`, `macro_recall`, `macro_f1`, `examples` and
        `per_class`, a dict `{name: {"precision", "recall", "f1", "support"}}` (support: the
        number of examples labelled with the class).

    Example:
    >>> report = classification_report([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    >>> report["accuracy"], round(report["macro_f1"], 4), report["per_class"]["pos"]["precision"]
    (0.75, 0.7333, 0.6666666666666666)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    num_classes = len(label_names)
    if y_true.ndim == 2:
        # Multi-label: per class, counts of the yes/no decisions.
        if y_pred.shape != y_true.shape or y_true.shape[1] != num_classes:
            raise ValueError(
                f"multi-label y_true and y_pred must both be (n, {num_classes}); "
                f"received {y_true.shape} and {y_pred.shape}"
            )
        y_true, y_pred = y_true.astype(bool), y_pred.astype(bool)
        true_positives = np.sum(y_true & y_pred, axis=0)
        predicted = np.sum(y_pred, axis=0)
        support = np.sum(y_true, axis=0)
        accuracy = float(np.mean(np.all(y_true == y_pred, axis=1))) if len(y_true) else 0.0
    else:
        matrix = confusion_matrix(y_true, y_pred, num_classes)
        true_positives = np.diag(matrix)
        predicted = matrix.sum(axis=0)
        support = matrix.sum(axis=1)
        accuracy = float(true_positives.sum() / max(matrix.sum(), 1))
    precision = _safe_divide(true_positives, predicted)
    recall = _safe_divide(true_positives, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return {
        "accuracy": accuracy,
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "examples": int(len(y_true)),
        "per_class": {
            str(name): {
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c, name in enumerate(label_names)
        },
    }


def _safe_divide(numerator, denominator):
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _check_labels(y_true, y_pred, num_classes):
    y_true = np.asarray(y_true).astype("int64").reshape(-1)
    y_pred = np.asarray(y_pred).astype("int64").reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes}): {sorted(set(labels.tolist()))[:10]}")
    return y_true, y_pred
