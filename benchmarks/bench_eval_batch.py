"""The final evaluation of a trained PTB language model at several batch sizes, with and without warm-up.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/bench_eval_batch.py --model runs/ptb \\
        --data-dir ../shared/datasets/ptb [--weights runs/ptb/checkpoints/best.weights.h5]

`--model` is an `lm train` output folder (or its `.in_progress` staging folder, with `--weights`
the checkpoint to read). Rows: one row (batch 1: every token with its whole history, the exact
reference), the training batch, and `evaluation_batch_size`'s batch without and with the
warm-up of `PerplexityEvaluator`. Each prints its validation and test perplexity and tokens/s
(timed after a compiling call), one JSON line per row.
"""

import argparse
import json
import time

from lstm_keras.datasets.language_modeling import load_language_modeling_data
from lstm_keras.datasets.language_modeling import text_to_stream
from lstm_keras.models.language_modeling import PerplexityEvaluator
from lstm_keras.models.language_modeling import evaluation_batch_size
from lstm_keras.models.language_modeling import load_language_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--weights")
    parser.add_argument("--bptt", type=int, default=35)
    args = parser.parse_args()
    module = load_language_model(args.model)
    model, tokenizer = module.model, module.tokenizer
    if args.weights:
        model.load_weights(args.weights)
    model.compile()
    data = load_language_modeling_data("ptb", data_dir=args.data_dir)
    streams = {split: text_to_stream(getattr(data, split), tokenizer) for split in ("valid", "test")}
    auto = evaluation_batch_size(model, min(len(stream) for stream in streams.values()), args.bptt)
    for batch, warmup in ((1, 0), (model.batch_size, 0), (auto, 0), (auto, None)):
        evaluator = PerplexityEvaluator(model, args.bptt, batch_size=batch, warmup=warmup)
        evaluator(streams["valid"][: batch * args.bptt + 1])  # compiles
        row = {"batch": batch, "warmup": evaluator.warmup}
        for split, stream in streams.items():
            started = time.monotonic()
            row[split] = round(evaluator(stream)["perplexity"], 2)
            row[f"{split}_tokens_per_second"] = round(len(stream) / (time.monotonic() - started))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
