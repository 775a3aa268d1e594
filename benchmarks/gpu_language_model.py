"""PTB perplexity of the medium configuration on a GPU machine that has JAX and no TensorFlow.

Usage (from the repository root; `benchmarks/gpu_check.sh` runs it on a device machine):
    KERAS_BACKEND=jax python benchmarks/gpu_language_model.py --data-dir DIR [--time-budget 4.5]

The model is the medium configuration of Zaremba et al. (2014) (2 x 650 units, 650-dimensional
embeddings, dropout 0.5, batch 20, 35 steps of truncated BPTT; their test perplexity: 82.7 after
39 epochs) with the project's recipe (`LanguageModel.compile` defaults: SGD at 20 with gradient
clipping 0.25, the learning rate divided by 4 after an epoch without a better validation
perplexity; tied embedding and softmax matrices, as in the PyTorch word-language-model example).
Training and evaluation are `fit_language_model` and `evaluate_perplexity`, exactly as in
`lstm-keras lm train`; only the tokenisation differs, because `lm train` tokenises with
TensorFlow Text: PTB is already tokenised, with `<unk>` for rare words, so here the vocabulary
is its 10,000 whitespace-separated words after `[PAD] [START] [END]`, with `[END]` after every
line. That is the same stream of 929,589 / 73,760 / 82,430 tokens over the same 10,000 + `[END]`
predicted ids, so the perplexities are comparable with the CPU benchmark's.

Prints one JSON line: the device, whether the LSTM layers take the fused (cuDNN) kernel, the
validation perplexity of every epoch, the seconds per epoch, training tokens per second and the
final validation and test perplexities.
"""

import argparse
import collections
import json
import time

import keras
import numpy as np

from lstm_keras.datasets.language_modeling import load_ptb
from lstm_keras.models.language_model import LanguageModel
from lstm_keras.models.truncated_bptt import evaluate_perplexity
from lstm_keras.models.truncated_bptt import fit_language_model

RESERVED = 3  # [PAD] [START] [END]: the ids LanguageModel expects (0, 1, 2)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="a folder with ptb.{train,valid,test}.txt(.gz)")
    parser.add_argument("--time-budget", type=float, default=4.5, help="training minutes")
    parser.add_argument("--epochs", type=int, default=39)
    parser.add_argument("--units", type=int, default=650)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def streams(data):
    """The three splits as id streams (`[END]` after every line) and the vocabulary size."""
    counts = collections.Counter(word for line in data.train for word in line.split())
    ids = {word: RESERVED + i for i, (word, _) in enumerate(counts.most_common())}
    end_id = 2

    def to_stream(lines):
        return np.array([i for line in lines for i in [*(ids[w] for w in line.split()), end_id]], dtype="int32")

    return to_stream(data.train), to_stream(data.valid), to_stream(data.test), RESERVED + len(ids)


def device_name():
    """The first accelerator (or CPU) of the JAX or PyTorch backend."""
    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    train, valid, test, vocabulary_size = streams(load_ptb(args.data_dir))
    model = LanguageModel(vocabulary_size, embedding_dim=args.units, units=args.units, num_layers=2,
                          tie_weights=True, embedding_dropout=args.dropout, dropout=args.dropout,
                          output_dropout=args.dropout, batch_size=args.batch_size)
    model.compile()
    history, stats = fit_language_model(model, train, valid, bptt=args.bptt, epochs=args.epochs,
                                        time_budget=args.time_budget, verbose=2)
    started = time.monotonic()
    results = {
        "backend": keras.backend.backend(),
        "device": device_name(),
        "fused_kernel": [lstm.fused_kernel_compatible for lstm in model.lstm_layers],
        "tokens": [len(train), len(valid), len(test)],
        "vocabulary_size": vocabulary_size,
        "config": vars(args),
        "val_perplexity_per_epoch": [round(float(p), 2) for p in history.history.get("val_perplexity", [])],
        **stats,
        "valid_perplexity": round(evaluate_perplexity(model, valid, args.bptt)["perplexity"], 2),
        "test_perplexity": round(evaluate_perplexity(model, test, args.bptt)["perplexity"], 2),
    }
    results["evaluation_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
