"""Times one training step of keras.layers.LSTM, GatedLSTM in every preset and torch.nn.LSTM, fairly.

Usage:
    python benchmarks/bench_lstm.py [--shapes small,large] [--backends tensorflow,jax] [--variants vanilla,cifg]
        [--xla] [--rounds 5] [--steps 10] [--threads 2] [--torch-python PATH]

Each configuration is `Input -> LSTM(units) -> Dense(1)` trained with SGD on MSE (`train_on_batch`,
the backend's default compilation; for PyTorch the same model with `loss.backward()` and
`optimizer.step()`). Every configuration runs in a process of its own with the same number of
threads (`--threads`: TensorFlow's intra-op pool, `torch.set_num_threads`; JAX uses every core, or
one thread with `--threads 1`),
built and warmed up (3 steps) before any timing. Then the timing goes in rounds: in each round
every process in turn times `--steps` steps while the others wait, so a change of the machine's
load hits every configuration alike. Reported: the median of all timed steps, the spread of the
per-round medians (lowest-highest), and the load average of the machine (1 minute) before and
after. `--torch-python` runs the PyTorch row with another interpreter (a virtualenv with torch);
without torch the row is left out and said so.

Prints a Markdown table per shape, with the ratio of each median to `keras.layers.LSTM` on
TensorFlow and to `torch.nn.LSTM`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SHAPES = {
    "small": {"batch": 64, "steps": 100, "features": 128, "units": 256},
    "large": {"batch": 128, "steps": 200, "features": 256, "units": 512},
}
REFERENCE = "keras.layers.LSTM (tensorflow)"
TORCH = "torch.nn.LSTM"
WARMUP_STEPS = 3


def configurations(backends, variants, xla=False):
    """`{label: config}` of the rows: Keras' LSTM and GatedLSTM per backend (and with `xla`, compiled by XLA on
    TensorFlow too, which Keras does not do by default on a CPU), then PyTorch's LSTM."""
    rows = {}
    for backend in backends:
        for jit in (False, True) if xla and backend == "tensorflow" else (False,):
            suffix = f" ({backend}{', XLA' if jit else ''})"
            rows["keras.layers.LSTM" + suffix] = {"kind": "keras", "backend": backend, "xla": jit}
            for variant in variants:
                rows[f"GatedLSTM {variant}" + suffix] = {"kind": "gated", "backend": backend, "variant": variant,
                                                         "xla": jit}
    rows[TORCH] = {"kind": "torch"}
    return rows


def set_threads(kind, threads):
    """The same thread count for every kind of process (call before the framework starts working)."""
    if kind == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    elif os.environ.get("KERAS_BACKEND") != "jax":  # JAX: XLA_FLAGS, set by `start_worker`
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def keras_step(config, shape):
    """A training step of `Input -> layer -> Dense(1)` (a zero-argument callable)."""
    import keras
    import numpy as np

    from lstm_keras.layers import GatedLSTM

    rng = np.random.default_rng(0)
    x = rng.normal(size=(shape["batch"], shape["steps"], shape["features"])).astype("float32")
    y = rng.normal(size=(shape["batch"], 1)).astype("float32")
    layer = keras.layers.LSTM(shape["units"]) if config["kind"] == "keras" else GatedLSTM(
        shape["units"], variant=config["variant"])
    model = keras.Sequential([keras.Input(x.shape[1:]), layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e-3), "mse", jit_compile=True if config["xla"] else "auto")
    # Converting the returned loss to a float waits for the step to finish.
    return lambda: float(np.asarray(model.train_on_batch(x, y)))


def torch_step(shape):
    """The same training step with torch.nn.LSTM + Linear on the CPU."""
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(shape["features"], shape["units"], batch_first=True)
    head = torch.nn.Linear(shape["units"], 1)
    optimizer = torch.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.randn(shape["batch"], shape["steps"], shape["features"])
    y = torch.randn(shape["batch"], 1)

    def step():
        optimizer.zero_grad()
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def worker(config, shape, threads):
    """A child process: builds and warms up one configuration, then times `n` steps per line `n` read."""
    set_threads(config["kind"], threads)
    step = torch_step(shape) if config["kind"] == "torch" else keras_step(config, shape)
    for _ in range(WARMUP_STEPS):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


def start_worker(config, shape, threads, torch_python):
    """A started, warmed-up worker process, or None if it could not start (e.g. no torch)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if config["kind"] != "torch":
        env["KERAS_BACKEND"] = config["backend"]
        if config["backend"] == "jax" and threads == 1:
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    python = torch_python if config["kind"] == "torch" else sys.executable
    process = subprocess.Popen(
        [python, os.path.abspath(__file__), "--worker", json.dumps(config), "--shape", json.dumps(shape),
         "--threads", str(threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if process.stdout.readline().strip() != "ready":
        process.kill()
        return None, process.stderr.read()[-500:]
    return process, None


def time_in_rounds(workers, rounds, steps):
    """`{label: [per-round lists of step seconds]}`: each round asks every worker in turn for `steps` steps."""
    times = {label: [] for label in workers}
    for _ in range(rounds):
        for label, process in workers.items():
            process.stdin.write(f"{steps}\n")
            process.stdin.flush()
            times[label].append(json.loads(process.stdout.readline()))
    return times


def table(times, load):
    """The Markdown table of one shape."""
    medians = {label: statistics.median([t for r in rounds for t in r]) for label, rounds in times.items()}
    lines = [f"load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}", "",
             "| configuration | ms / training step (median) | per-round medians, lowest-highest | "
             f"× {REFERENCE} | × {TORCH} |", "|---|---|---|---|---|"]
    for label, rounds in times.items():
        per_round = [statistics.median(r) for r in rounds]
        ratios = [f"{medians[label] / medians[ref]:.2f}" if ref in medians else "–" for ref in (REFERENCE, TORCH)]
        lines.append(f"| {label} | {medians[label] * 1e3:.1f} | {min(per_round) * 1e3:.1f}–{max(per_round) * 1e3:.1f} "
                     f"| {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="small,large")
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--variants", default="vanilla",
                        help="GatedLSTM presets, comma-separated (e.g. vanilla,peephole,cifg), or all")
    parser.add_argument("--xla", action="store_true", help="also the TensorFlow rows compiled with XLA")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration and round")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--torch-python", default=sys.executable, help="the Python interpreter that has torch")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker), json.loads(args.shape), args.threads)
    print(f"machine={platform.machine()} processor={platform.processor() or 'n/a'} cpus={os.cpu_count()} "
          f"threads={args.threads}")
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        workers = {}
        variants = args.variants.split(",")
        if variants == ["all"]:
            from lstm_keras.layers.gating import VARIANTS

            variants = list(VARIANTS)
        for label, config in configurations(args.backends.split(","), variants, args.xla).items():
            process, error = start_worker(config, shape, args.threads, args.torch_python)
            if process is None:
                print(f"{label}: left out ({error.strip().splitlines()[-1] if error.strip() else 'no output'})",
                      file=sys.stderr)
                continue
            workers[label] = process
        load_before = os.getloadavg()[0]
        times = time_in_rounds(workers, args.rounds, args.steps)
        load_after = os.getloadavg()[0]
        for process in workers.values():
            process.stdin.close()
            process.wait()
        print(f"\n### {name}: batch {shape['batch']}, {shape['steps']} steps, {shape['features']} inputs, "
              f"{shape['units']} units\n")
        print(table(times, (load_before, load_after)), flush=True)


if __name__ == "__main__":
    main()
