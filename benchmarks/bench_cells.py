"""The cells of `lstm_keras.layers.cells` compared: training speed by sequence length, and language modelling.

Usage:
    # Training tokens/s of one layer (forward, backward, SGD step) at lengths 128, 512 and 2,048:
    # the fused LSTM, the peephole preset, sLSTM, mLSTM (parallel, chunkwise), minLSTM, minGRU.
    KERAS_BACKEND=tensorflow python benchmarks/bench_cells.py --speed

    # Language models of every cell, each optimiser, on two corpora under one token budget: the
    # measurement behind `lm train`'s per-cell optimiser defaults.
    KERAS_BACKEND=tensorflow python benchmarks/bench_cells.py --language-models \\
        --ptb ../shared/datasets/ptb --multi30k ../shared/datasets/multi30k

The speed of a configuration is the median of `--repeats` timed training steps (after two
warm-up steps that compile) of a model that is only the layer and a sum: `batch x length /
seconds` target tokens per second. Each configuration runs in its own process, one after the
other, so that no two measurements share the cores. The language models read the first
`--train-tokens` tokens of each corpus' training text (PTB's train split; Multi30k's English side)
in one epoch of truncated BPTT and report the perplexity of the first `--eval-tokens` tokens of
its held-out text (PTB's test split; Multi30k's validation English side). One JSON line per
measurement goes to stdout, a Markdown table to stderr.
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

SPEED_CONFIGURATIONS = {
    "lstm (fused)": {"cell": "lstm"},
    "lstm peephole": {"cell": "lstm", "gating": "peephole"},
    "slstm (4 heads)": {"cell": "slstm"},
    "mlstm parallel": {"cell": "mlstm", "mode": "parallel"},
    "mlstm chunkwise (64)": {"cell": "mlstm", "mode": "chunkwise"},
    "minlstm (scan)": {"cell": "minlstm"},
    "mingru (scan)": {"cell": "mingru"},
}
LENGTHS = (128, 512, 2048)
LM_CELLS = ("lstm", "slstm", "mlstm", "minlstm", "mingru", "xlstm[1:1]")
OPTIMIZERS = {"sgd": 20.0, "adam": 2e-3}


def speed_step(configuration, length, batch, width, repeats):
    """Median seconds of one training step of the layer (run in a child process)."""
    import keras
    import numpy as np

    from lstm_keras.layers import MLSTM
    from lstm_keras.layers.cells import default_heads
    from lstm_keras.layers.cells import recurrent_layer

    keras.utils.set_random_seed(0)
    options = dict(configuration)
    if options.get("mode"):
        layer = MLSTM(width, num_heads=default_heads(width), mode=options["mode"], return_sequences=True)
    else:
        layer = recurrent_layer(options["cell"], width, options.get("gating"), return_sequences=True)
    inputs = keras.Input((length, width), batch_size=batch)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(batch, length, width)).astype("float32")
    y = np.zeros((batch, length, width), "float32")
    for _ in range(2):
        model.train_on_batch(x, y)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def run_speed(args):
    rows = []
    for length in LENGTHS:
        for name, configuration in SPEED_CONFIGURATIONS.items():
            code = (
                "import json, sys; sys.path.insert(0, 'benchmarks'); import bench_cells as b; "
                f"print(json.dumps(b.speed_step({configuration!r}, {length}, {args.batch}, {args.width}, "
                f"{args.repeats})))"
            )
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                continue
            median, low, high = json.loads(done.stdout.strip().splitlines()[-1])
            row = {"configuration": name, "length": length, "seconds_per_step": round(median, 4),
                   "min": round(low, 4), "max": round(high, 4),
                   "tokens_per_second": round(args.batch * length / median, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("| configuration | " + " | ".join(f"T={n} tok/s (s/step)" for n in LENGTHS) + " |", file=sys.stderr)
    print("|---|" + "---|" * len(LENGTHS), file=sys.stderr)
    for name in SPEED_CONFIGURATIONS:
        cells = [next((f"{r['tokens_per_second']:,.0f} ({r['seconds_per_step']:.3f})" for r in rows
                       if r["configuration"] == name and r["length"] == n), "-") for n in LENGTHS]
        print(f"| {name} | " + " | ".join(cells) + " |", file=sys.stderr)


def read_gz_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def corpora(args):
    """`{name: (train lines, held-out lines, tokenizer options)}` of the corpora given."""
    found = {}
    if args.ptb:
        found["ptb"] = (read_gz_lines(os.path.join(args.ptb, "ptb.train.txt.gz")),
                        read_gz_lines(os.path.join(args.ptb, "ptb.test.txt.gz")))
    if args.multi30k:
        found["multi30k-en"] = (read_gz_lines(os.path.join(args.multi30k, "train.en.gz")),
                                read_gz_lines(os.path.join(args.multi30k, "val.en.gz")))
    return found


def run_language_models(args):
    import keras

    from lstm_keras.datasets.language_modeling import text_to_stream
    from lstm_keras.models.language_modeling import LanguageModel
    from lstm_keras.models.language_modeling import evaluate_perplexity
    from lstm_keras.models.language_modeling import fit_language_model
    from lstm_keras.text import Tokenizer

    rows = []
    for corpus, (train_lines, held_out_lines) in corpora(args).items():
        tokenizer = Tokenizer.from_texts(train_lines, kind="word", vocab_size=args.vocab_size)
        train = text_to_stream(train_lines, tokenizer)[:args.train_tokens]
        held_out = text_to_stream(held_out_lines, tokenizer)[:args.eval_tokens]
        for cell in args.cells:
            for optimizer, learning_rate in OPTIMIZERS.items():
                keras.utils.set_random_seed(args.seed)
                model = LanguageModel(tokenizer.vocab_size, embedding_dim=args.units, units=args.units, num_layers=2,
                                      cell=cell, tie_weights=True, batch_size=20)
                chosen = (keras.optimizers.SGD(learning_rate, global_clipnorm=0.25) if optimizer == "sgd"
                          else keras.optimizers.Adam(learning_rate, global_clipnorm=1.0))
                model.compile(optimizer=chosen)
                start = time.perf_counter()
                _, stats = fit_language_model(model, train, None, bptt=35, epochs=1, verbose=0)
                seconds = time.perf_counter() - start
                perplexity = evaluate_perplexity(model, held_out, bptt=35)["perplexity"]
                row = {"corpus": corpus, "cell": cell, "optimizer": optimizer, "learning_rate": learning_rate,
                       "train_tokens": len(train), "eval_tokens": len(held_out), "perplexity": round(perplexity, 1),
                       "train_seconds": round(seconds, 1),
                       "train_tokens_per_second": round(stats["train_tokens_per_second"], 1)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    print("| corpus | cell | " + " | ".join(f"{o} (lr {lr:g})" for o, lr in OPTIMIZERS.items()) + " |",
          file=sys.stderr)
    print("|---|---|" + "---|" * len(OPTIMIZERS), file=sys.stderr)
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        for cell in args.cells:
            values = [next((f"{r['perplexity']:.1f}" for r in rows if r["corpus"] == corpus and r["cell"] == cell
                            and r["optimizer"] == o), "-") for o in OPTIMIZERS]
            print(f"| {corpus} | {cell} | " + " | ".join(values) + " |", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--language-models", action="store_true")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ptb", help="a folder with ptb.train.txt.gz and ptb.test.txt.gz")
    parser.add_argument("--multi30k", help="a folder with train.en.gz and val.en.gz")
    parser.add_argument("--vocab-size", type=int, default=10000)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--train-tokens", type=int, default=210000)
    parser.add_argument("--eval-tokens", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", nargs="+", default=LM_CELLS, help="the cells of --language-models")
    args = parser.parse_args()
    if args.speed:
        run_speed(args)
    if args.language_models:
        run_language_models(args)


if __name__ == "__main__":
    main()
