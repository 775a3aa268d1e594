"""Matplotlib figures shared by the tasks: training curves, attention/heatmap plots, scores by length.

No backend is forced: notebooks keep their inline backend, and headless runs (the CLI, CI) get
matplotlib's own fallback, Agg.
"""

import csv
import math
import os

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from lstm_keras.io import atomic_path


def plot_history(history, path=None, metrics=None):
    """Plots training curves (one panel per metric, train and validation) against the epoch number.

    Args:
        history: a `keras.callbacks.History`, its `.history` dict, or the path of a `CSVLogger`
            file (`history.csv`: a run resumed after an interruption logged every epoch there,
            while its `History` holds only the epochs since the resumption).
        path: where to save a PNG (written atomically), or None.
        metrics: metric names to plot; default: every metric without the `val_` prefix.

    Returns:
        The matplotlib figure.
    """
    if isinstance(history, (str, os.PathLike)):
        with open(history, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        epochs = [int(row["epoch"]) + 1 for row in rows]
        logs = {key: [float(row[key]) if row[key] not in ("", None) else math.nan for row in rows]
                for key in (rows[0] if rows else {}) if key != "epoch"}
    else:
        logs = getattr(history, "history", history)
        first = getattr(history, "epoch", None) or [0]
        epochs = [first[0] + 1 + i for i in range(len(next(iter(logs.values()), [])))]
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs[: len(logs[name])], logs[name], marker="o", label="train")
        if f"val_{name}" in logs:
            ax.plot(epochs[: len(logs[f"val_{name}"])], logs[f"val_{name}"], marker="o", label="validation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_heatmap(weights, x_labels, y_labels, path=None, title=None, x_title="source", y_title="target"):
    """Plots a matrix (e.g. attention weights, confusion matrix) with tokens or labels on the axes.

    Args:
        weights: a 2-D array `(len(y_labels), len(x_labels))`.
        x_labels: labels of the columns.
        y_labels: labels of the rows.
        path: where to save a PNG (written atomically), or None.
        title: the figure title.

    Returns:
        The matplotlib figure.
    """
    fig, ax = plt.subplots(figsize=(0.45 * len(x_labels) + 2, 0.45 * len(y_labels) + 1.5))
    image = ax.imshow(weights, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=90)
    ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_scores_by_length(scores, path=None, title=None):
    """Bars of a score (1 perfect, 0 chance) by length bucket: how far a model generalises beyond its training lengths.

    Args:
        scores: `{bucket name: scaled score}` in order (e.g. `{"3-40": 1.0, "41-64": 0.6}`), or
            `{series name: {bucket name: score}}` for several models side by side.
        path: where to save a PNG (written atomically), or None.
        title: the figure title.

    Returns:
        The matplotlib figure.
    """
    series = scores if isinstance(next(iter(scores.values())), dict) else {"": scores}
    buckets = list(next(iter(series.values())))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(buckets) * max(1, len(series) / 2)), 3.5))
    for k, (name, values) in enumerate(series.items()):
        ax.bar([i + (k - (len(series) - 1) / 2) * width for i in range(len(buckets))],
               [values.get(b, math.nan) for b in buckets], width, label=name or None)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(buckets)), buckets)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("scaled score (1 perfect, 0 chance)")
    ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.05)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def save_figure(fig, path):
    """Saves `fig` as a PNG at `path` atomically (nothing if `path` is None)."""
    if path is None:
        return
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
