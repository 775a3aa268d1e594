"""Where the time of one `GatedLSTM` training step goes on a CPU: forward, backward, the optimiser; graph, XLA, unrolled.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/profile_lstm_step.py [--shape small|large] [--repeats 15]

The model of `benchmarks/bench_lstm.py` (`Input -> GatedLSTM(units) -> Dense(1)`, vanilla gating,
SGD on MSE) timed in parts, each part a `tf.function` of its own called `--repeats` times after
two compiling calls (median reported, ms):
- `forward`: the model's outputs and the loss;
- `forward + backward`: the same and the gradients of every weight (`tf.GradientTape`);
- `training step`: Keras' `train_on_batch` (the above, the optimiser's update and Keras' step
  bookkeeping).
Each for the recurrence as a graph loop (Keras' default on a CPU), the same compiled by XLA
(`jit_compile=True`), and fully unrolled (`unroll=True`: one graph node per step).
"""

import argparse
import os
import statistics
import time

SHAPES = {
    "small": {"batch": 64, "steps": 100, "features": 128, "units": 256},
    "large": {"batch": 128, "steps": 200, "features": 256, "units": 512},
}


def timed(function, repeats):
    """The median wall time of `function()` in ms, after two untimed (compiling) calls."""
    function()
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def profile(shape, jit, unroll, repeats):
    """`{part: ms}` for one setting."""
    import keras
    import numpy as np
    import tensorflow as tf

    from lstm_keras.layers import GatedLSTM

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((shape["steps"], shape["features"])),
                              GatedLSTM(shape["units"], unroll=unroll), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(shape["batch"], shape["steps"], shape["features"])).astype("float32"))
    y = tf.constant(rng.normal(size=(shape["batch"], 1)).astype("float32"))

    @tf.function(jit_compile=jit)
    def forward():
        return tf.reduce_mean((model(x, training=True) - y) ** 2)

    @tf.function(jit_compile=jit)
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        return tape.gradient(loss, model.trainable_weights)

    return {
        "forward": timed(forward, repeats),
        "forward + backward": timed(forward_backward, repeats),
        "training step": timed(lambda: model.train_on_batch(x, y), repeats),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=tuple(SHAPES), default="small")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    shape = SHAPES[args.shape]
    settings = {"graph loop": (False, False), "XLA": (True, False), "unrolled": (False, True)}
    print(f"shape {args.shape}: {shape}")
    print("| setting | forward (ms) | forward + backward (ms) | training step (ms) | backward share |")
    print("|---|---|---|---|---|")
    for name, (jit, unroll) in settings.items():
        parts = profile(shape, jit, unroll, args.repeats)
        backward = 1 - parts["forward"] / parts["forward + backward"]
        print(f"| {name} | {parts['forward']:.1f} | {parts['forward + backward']:.1f} | {parts['training step']:.1f} "
              f"| {backward:.0%} |", flush=True)


if __name__ == "__main__":
    main()
