"""Times one training step of keras.layers.LSTM, GatedLSTM in every preset and torch.nn.LSTM.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/bench_lstm.py [--repeats 7] [--shapes small,large]

Each model is `Input -> LSTM(units) -> Dense(1)` trained with SGD on MSE (`train_on_batch`, the
backend's default compilation: XLA where Keras enables it). Every model is built and warmed up
(two steps) first; then the timed steps go round-robin over all configurations, `--repeats`
rounds, and each reports its minimum (the time least disturbed by other load).
Prints a Markdown table of milliseconds per step and the ratio to keras.layers.LSTM.
"""

import argparse
import platform
import time

import keras
import numpy as np

from lstm_keras.layers import VARIANTS
from lstm_keras.layers import GatedLSTM

SHAPES = {
    "small": {"batch": 64, "steps": 100, "features": 128, "units": 256},
    "large": {"batch": 128, "steps": 200, "features": 256, "units": 512},
}


def keras_step(make_layer, shape):
    """A warmed-up training step of `Input -> layer -> Dense(1)` (a zero-argument callable)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(shape["batch"], shape["steps"], shape["features"])).astype("float32")
    y = rng.normal(size=(shape["batch"], 1)).astype("float32")
    model = keras.Sequential([keras.Input(x.shape[1:]), make_layer(shape["units"]), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    for _ in range(2):
        model.train_on_batch(x, y)
    # Converting the returned loss to a float waits for the device to finish the step.
    return lambda: float(np.asarray(model.train_on_batch(x, y)))


def torch_step(shape):
    """A warmed-up training step of torch.nn.LSTM + Linear, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lstm = torch.nn.LSTM(shape["features"], shape["units"], batch_first=True).to(device)
    head = torch.nn.Linear(shape["units"], 1).to(device)
    optimizer = torch.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.randn(shape["batch"], shape["steps"], shape["features"], device=device)
    y = torch.randn(shape["batch"], 1, device=device)

    def step():
        optimizer.zero_grad()
        out, _ = lstm(x)
        torch.nn.functional.mse_loss(head(out[:, -1]), y).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    return step


def time_round_robin(steps, repeats):
    """Minimum seconds per step of each callable, timing them in turn so load hits all alike."""
    best = {name: float("inf") for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--shapes", default="small,large")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()} keras={keras.__version__} machine={platform.machine()} "
          f"processor={platform.processor() or 'n/a'}")
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        steps = {"keras.layers.LSTM": keras_step(lambda u: keras.layers.LSTM(u), shape)}
        for variant in args.variants.split(","):
            steps[f"GatedLSTM {variant}"] = keras_step(lambda u, v=variant: GatedLSTM(u, variant=v), shape)
        if (step := torch_step(shape)) is not None:
            steps["torch.nn.LSTM"] = step
        best = time_round_robin(steps, args.repeats)
        print(f"\n### {name}: batch {shape['batch']}, {shape['steps']} steps, {shape['features']} inputs, "
              f"{shape['units']} units\n")
        print("| layer | ms / training step | ratio to keras.layers.LSTM |")
        print("|---|---|---|")
        for label, seconds in best.items():
            print(f"| {label} | {seconds * 1e3:.1f} | {seconds / best['keras.layers.LSTM']:.2f} |", flush=True)

if __name__ == "__main__":
    main()
