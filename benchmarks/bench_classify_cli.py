"""`lstm-keras classify train` as a user runs it, compared across settings on ~5k-example corpora.

Builds the small corpora the classification issues measure on, each 5,452 training and 500 test
examples drawn at random (NumPy seed 7) and written as TSV files under `OUT/data/` (third-party
text: never committed):

* `mr5k`: MR sentences (Pang & Lee 2005), 2 classes;
* `imdb5k`: IMDB training reviews (Maas et al. 2011), 2 classes;
* `debian5k`: Debian package synopses and their topic section (`--dataset debian`), 14 classes.

Then runs `classify train --dataset X_train.tsv --test X_test.tsv --seed S ARGS --out DIR` for
every named setting, corpus and seed, one at a time, and prints a Markdown table of test accuracy,
macro-F1 and the command's wall time (one JSON line per run is appended to `OUT/runs.jsonl`; a run
already there is not repeated).

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/bench_classify_cli.py --data-dir ../shared/datasets \\
        --debian-dir DIR_WITH_Packages --corpora mr5k debian5k --seeds 1 2 \\
        --setting plain= --setting "lm2=--pretrain-lm 2" --setting "ulmfit=--pretrain-lm 2 --fine-tune ulmfit"
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from lstm_keras.datasets.classification import load_classification_data  # noqa: E402

TRAIN_SIZE, TEST_SIZE, SAMPLE_SEED = 5452, 500, 7
CORPORA = {"mr5k": "mr", "imdb5k": "imdb", "debian5k": "debian"}


def write_sample(corpus, data_dir, folder):
    """Writes `corpus`'s 5k sample as `<corpus>_train.tsv` / `<corpus>_test.tsv`; returns both paths."""
    paths = [os.path.join(folder, f"{corpus}_{split}.tsv") for split in ("train", "test")]
    if all(os.path.exists(p) for p in paths):
        return paths
    data = load_classification_data(CORPORA[corpus], data_dir=data_dir)
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(data.train_texts))
    chosen = [order[:TRAIN_SIZE], order[TRAIN_SIZE:TRAIN_SIZE + TEST_SIZE]]
    os.makedirs(folder, exist_ok=True)
    for path, indices in zip(paths, chosen):
        with open(path, "w", encoding="utf-8") as f:
            for i in indices:
                text = " ".join(data.train_texts[i].split())  # one line, no tabs
                f.write(f"{data.label_names[data.train_labels[i]]}\t{text}\n")
    return paths


def run(train, test, seed, options, out):
    command = [sys.executable, "-m", "lstm_keras", "classify", "train", "--dataset", train, "--test", test,
               "--seed", str(seed), *options, "--out", out, "--overwrite"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode:
        raise SystemExit(f"{shlex.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="local copies of imdb and mr (e.g. ../shared/datasets)")
    parser.add_argument("--debian-dir", help="a folder with a Debian package index (Packages), for debian5k")
    parser.add_argument("--corpora", nargs="+", choices=tuple(CORPORA), default=["mr5k", "debian5k"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--setting", action="append", required=True, metavar="NAME=ARGS",
                        help="a named setting: classify train arguments after the '='")
    parser.add_argument("--out", default="runs/bench_classify_cli")
    args = parser.parse_args()
    settings = dict(s.split("=", 1) for s in args.setting)
    log_path = os.path.join(args.out, "runs.jsonl")
    done = {}
    if os.path.exists(log_path):
        with open(log_path) as f:
            for line in f:
                record = json.loads(line)
                done[(record["corpus"], record["setting"], record["seed"])] = record
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}", flush=True)
    for corpus in args.corpora:
        data_dir = args.debian_dir if corpus == "debian5k" else args.data_dir
        train, test = write_sample(corpus, data_dir, os.path.join(args.out, "data"))
        for seed in args.seeds:
            for name, options in settings.items():
                if (corpus, name, seed) in done:
                    continue
                metrics, wall = run(train, test, seed, shlex.split(options),
                                    os.path.join(args.out, f"{corpus}_{name}_{seed}"))
                record = {"corpus": corpus, "setting": name, "options": options, "seed": seed,
                          "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "wall_seconds": wall,
                          "epochs": metrics.get("epochs_trained"), "pretraining": metrics.get("pretraining"),
                          "budget": metrics.get("budget")}
                done[(corpus, name, seed)] = record
                with open(log_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                print(json.dumps(record), flush=True)
    print(f"\n| corpus, seed | {' | '.join(settings)} |")
    print(f"|---|{'---|' * len(settings)}")
    for corpus in args.corpora:
        for seed in args.seeds:
            cells = [done[(corpus, name, seed)] for name in settings]
            print(f"| {corpus}, {seed} | " + " | ".join(
                f"{r['accuracy']:.3f} (F1 {r['macro_f1']:.3f}), {r['wall_seconds']:.0f} s" for r in cells) + " |")
        means = [np.mean([done[(corpus, name, s)]["accuracy"] for s in args.seeds]) for name in settings]
        print(f"| {corpus}, mean | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
