"""Distributed training speed and the time to resume a killed run, through `lstm-keras classify train`.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/bench_distribute.py [--epochs 2] [--out runs/bench_distribute]

Two measurements, each on the generated `reviews` corpus (`data/reviews.tsv`: its 16,000 training
texts less the validation share) with the same model, global batch and seed:

* `--strategy default` against `--strategy mirrored`: training examples per second (the global
  batch over Keras' time per training step, of the fastest epoch after the first, compiling
  one; validation excluded), and the training time of an epoch it implies. Without GPUs the mirrored run splits the CPU into
  `--replicas` logical devices (`LSTM_KERAS_CPU_DEVICES`), which share the same cores: on a CPU
  it measures the overhead of the strategy, not a speed-up. On a machine with several GPUs it
  uses them all.
* Resume: a run is killed (SIGKILL) in the middle of its second epoch and the same command is
  started again; reported are the seconds from that restart to the first batch of the resumed
  epoch (process start, data loading, vocabulary, model build and restoring the backup), and
  whether the resumed run ended with the same number of epochs.

Prints a Markdown table on stderr and one JSON line on stdout.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

BATCH = 64
MODEL = ["--units", "128", "--embedding-dim", "128", "--batch-size", str(BATCH), "--max-length", "64", "--seed", "0"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each speed run")
    parser.add_argument("--replicas", type=int, default=2, help="logical CPU devices of the mirrored run (no GPU)")
    parser.add_argument("--out", default="runs/bench_distribute")
    return parser.parse_args(argv)


def command(strategy, epochs, out):
    return [sys.executable, "-m", "lstm_keras", "classify", "train", "--dataset", "reviews", "--strategy", strategy,
            "--epochs", str(epochs), "--patience", str(epochs), "--out", out, *MODEL]


def environment(replicas):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "LSTM_KERAS_CPU_DEVICES": str(replicas)}


def speed(strategy, args, train_texts):
    """Training examples per second of `classify train --strategy STRATEGY` (`train_texts` an epoch)."""
    out = os.path.join(args.out, strategy)
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(command(strategy, args.epochs, out), capture_output=True, text=True,
                          env=environment(args.replicas), check=True)
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    # Keras' epoch lines: "225/225 - 5s - 21ms/step - ...": the time of a step, validation excluded.
    step_ms = [float(ms) for ms in re.findall(r" - (\d+(?:\.\d+)?)ms/step", done.stderr)]
    step_seconds = min(step_ms[1:] or step_ms) / 1000  # the first epoch compiles
    seconds = step_seconds * -(-train_texts // BATCH)
    replicas = re.search(r"(\d+) replicas in sync", done.stderr)
    return {"strategy": strategy, "replicas": int(replicas.group(1)) if replicas else 1,
            "seconds_per_epoch": round(seconds, 1), "examples_per_second": round(BATCH / step_seconds, 1),
            "accuracy": metrics["accuracy"]}


def training_texts():
    """The number of texts `classify train --dataset reviews` trains on (its validation share held out)."""
    from lstm_keras.models.classification.training import DEFAULTS
    from lstm_keras.datasets.classification import load_classification_data
    from lstm_keras.models.classification.training import split_validation

    labels = load_classification_data("reviews", seed=0).train_labels
    return len(split_validation(labels, DEFAULTS["valid_split"], seed=0)[0])


def resume(args):
    """Kills a run in its second epoch, restarts it and times the restart."""
    out = os.path.join(args.out, "resume")
    shutil.rmtree(out, ignore_errors=True)
    epochs = 3
    backup = os.path.join(out, ".in_progress", "backup", "training_metadata.json")
    process = subprocess.Popen(command("default", epochs, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=environment(1))
    while not os.path.exists(backup) and process.poll() is None:
        time.sleep(0.1)
    time.sleep(1.5)  # into the second epoch (about 5 s long)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with open(backup) as f:
        killed_after = json.load(f)["epoch"]
    started = time.monotonic()
    restarted = subprocess.Popen(command("default", epochs, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=environment(1))
    first_batch = None
    stderr_lines = []
    for line in restarted.stderr:
        stderr_lines.append(line)
        if first_batch is None and f"Epoch {killed_after + 1}/{epochs}" in line:
            first_batch = time.monotonic() - started
    stdout = restarted.stdout.read()
    restarted.wait()
    if restarted.returncode:
        raise SystemExit("".join(stderr_lines)[-3000:])
    metrics = json.loads(stdout.strip().splitlines()[-1])
    return {"killed_after_epochs": killed_after, "seconds_to_resumed_epoch": round(first_batch, 1),
            "resumed_run_seconds": round(time.monotonic() - started, 1), "epochs_trained": metrics["epochs_trained"],
            "epochs_expected": epochs}


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    train_texts = training_texts()
    runs = [speed(strategy, args, train_texts) for strategy in ("default", "mirrored")]
    restart = resume(args)
    lines = ["| strategy | replicas | s / epoch | training examples / s | test accuracy |", "|---|---|---|---|---|"]
    lines += [f"| {r['strategy']} | {r['replicas']} | {r['seconds_per_epoch']:g} | {r['examples_per_second']:,.0f} | "
              f"{r['accuracy']:.4f} |" for r in runs]
    lines.append(f"\nKilled after {restart['killed_after_epochs']} epoch(s), mid-epoch; restarted: the resumed epoch "
                 f"began {restart['seconds_to_resumed_epoch']} s after the restart; the run ended after "
                 f"{restart['epochs_trained']} epochs (expected {restart['epochs_expected']}).")
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps({"speed": runs, "resume": restart}))


if __name__ == "__main__":
    main()
