"""Translation benchmark: Multi30k de→en test2016 BLEU with beam 5, training time and decoding speed.

Usage:
    # The full benchmark: train on Multi30k (29k pairs; hours on a 2-core CPU, minutes on a GPU),
    # then BLEU / chrF on test2016 with beam 5 and the decoding speeds below.
    KERAS_BACKEND=tensorflow python benchmarks/bench_translation.py \\
        --data-dir /work/shared/datasets/multi30k --out runs/bench_multi30k

    # Decoding speed only, with a small model trained briefly on a subset of Multi30k:
    KERAS_BACKEND=tensorflow python benchmarks/bench_translation.py \\
        --data-dir /work/shared/datasets/multi30k --train-pairs 2000 --epochs 1 --units 64 \\
        --embedding-dim 64 --out runs/bench_small

    # Decoding speed of an existing `translate train` folder:
    KERAS_BACKEND=tensorflow python benchmarks/bench_translation.py --model runs/bench_multi30k

    # GNMT's coverage penalty: beam 5 with each beta on the validation and test splits, of an
    # existing folder (trained from English with --direction en-de):
    KERAS_BACKEND=tensorflow python benchmarks/bench_translation.py --model runs/bench_multi30k \
        --data-dir /work/shared/datasets/multi30k --coverage 0,0.1,0.2,0.4 --length-penalties 0.2,0.6,1.0

Training goes through `lstm-keras translate train` (so the BLEU is exactly what the command
reports: sacreBLEU's standard cased corpus BLEU of the detokenised output against the raw
references, its signature printed). The whole test set is then translated greedily and with
beam search under each `stopping` rule of `BeamSampler` (scores and seconds). Decoding
speed is measured on the first test2016 sources, one call per batch for each batch size of
`--decode-batches`: greedy decoding and batched beam search (k=5) in-process (compiled graphs,
tracing excluded: one warm-up call, then the best of `--repeats` calls), and the exported
SavedModel's `translate` signature on CPU, at the largest batch, in a separate process that
imports only TensorFlow and TensorFlow Text. The result is one
JSON line on stdout; a Markdown summary goes to stderr.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

# Times the SavedModel signature on CPU, in a process without lstm_keras (and without GPUs).
SERVE_TIMING = """
import json, sys, time
import tensorflow as tf
import tensorflow_text  # noqa: F401
texts = tf.constant(json.loads(sys.stdin.read()), tf.string)
translate = tf.saved_model.load(sys.argv[1]).signatures["translate"]
translate(texts=texts[:2])  # warm-up
best = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    translate(texts=texts)["translations"].numpy()
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "sentences": int(texts.shape[0])}))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help="local copies of the Multi30k files (default: download)")
    parser.add_argument("--model", help="an existing `translate train` folder: skip training")
    parser.add_argument("--out", default="runs/bench_translation", help="the training output folder")
    parser.add_argument("--train-pairs", type=int, help="train on the first N training pairs only")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--time-budget", type=float, help="training minutes")
    parser.add_argument("--units", type=int, default=256, help="encoder units per direction")
    parser.add_argument("--embedding-dim", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--tokenizer", choices=("word", "wordpiece"), help="default: the recipe's")
    parser.add_argument("--lowercase", action="store_true", help="lowercased, accent-stripped text (the old default)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--decode-batches", type=lambda text: [int(b) for b in text.split(",")], default=[1, 32, 256],
                        help="the batch sizes timed for decoding speed (the last one also for the SavedModel)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--direction", choices=("de-en", "en-de"), default="de-en", help="the Multi30k direction")
    parser.add_argument("--coverage", type=lambda text: [float(b) for b in text.split(",")],
                        help="only score beam search with each of these coverage penalties (beta), and each "
                             "--length-penalties alpha, on the validation and test splits")
    parser.add_argument("--length-penalties", type=lambda text: [float(a) for a in text.split(",")], default=[0.6],
                        help="the length penalties (alpha) of --coverage")
    return parser.parse_args(argv)


def train(args):
    """Trains with `lstm-keras translate train`; returns its metrics."""
    import contextlib
    import io

    from lstm_keras import cli

    dataset = ["--dataset", "multi30k-de-en"] + (["--data-dir", args.data_dir] if args.data_dir else [])
    if args.train_pairs:
        from lstm_keras.datasets.translation import load_multi30k

        train_pairs, valid_pairs, test_pairs = load_multi30k(args.data_dir)
        folder = tempfile.mkdtemp(prefix="multi30k_subset_")
        paths = []
        for name, pairs in (("train", train_pairs[: args.train_pairs]), ("valid", valid_pairs), ("test", test_pairs)):
            paths.append(os.path.join(folder, f"{name}.tsv"))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.writelines(f"{' '.join(s.split())}\t{' '.join(t.split())}\n" for s, t in pairs)
        dataset = ["--dataset", paths[0], "--valid", paths[1], "--test", paths[2]]
    argv = ["translate", "train", *dataset, "--epochs", str(args.epochs), "--units", str(args.units),
            "--embedding-dim", str(args.embedding_dim), "--layers", str(args.layers),
            "--batch-size", str(args.batch_size),
            "--beam-size", str(args.beam_size), "--out", args.out]
    if args.time_budget:
        argv += ["--time-budget", str(args.time_budget)]
    if args.tokenizer:
        argv += ["--tokenizer", args.tokenizer]
    if args.lowercase:
        argv += ["--lowercase"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = cli.main(argv)
    if status:
        raise SystemExit(status)
    return json.loads(stdout.getvalue().strip().splitlines()[-1])


def decoding_speed(model_dir, sources, batch_sizes, beam_size, repeats):
    """Best-of-`repeats` seconds to translate the first `batch` sources in one call, greedy and beam search.

    Returns one dict per batch size: the seconds and sentences per second of each, and the ratio.
    """
    import tensorflow as tf

    modules = decoding_modules(model_dir, standard_samplers(beam_size))
    rows = []
    for batch_size in batch_sizes:
        texts = tf.constant(sources[:batch_size], tf.string)
        row = {"batch": batch_size}
        for name, module in modules.items():
            module.translate(texts)  # tracing (once per module: the signature has an unknown batch size)
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                module.translate(texts)["translations"].numpy()
                best = min(best, time.perf_counter() - start)
            row[name] = {"seconds": round(best, 3), "sentences_per_second": round(batch_size / best, 1)}
        for name in modules:
            if name != "greedy":
                row[f"{name}_over_greedy"] = round(row[name]["seconds"] / row["greedy"]["seconds"], 2)
        rows.append(row)
    return rows


def decoding_modules(model_dir, samplers):
    """`TranslationModule`s of a model folder, one for each of `samplers` (`{name: sampler}`)."""
    from lstm_keras.models.translation.export import TranslationModule
    from lstm_keras.models.translation.export import load_translation_model

    loaded = load_translation_model(model_dir)
    return {name: TranslationModule(loaded.translator, loaded.source_tokenizer, loaded.target_tokenizer,
                                    sampler=sampler, max_source_length=loaded.max_source_length)
            for name, sampler in samplers.items()}


def standard_samplers(beam_size):
    """Greedy decoding, and beam search with each `stopping` rule."""
    from lstm_keras import decoding
    from lstm_keras.decoding.beam import STOPPING

    samplers = {"greedy": decoding.from_options(beam_size=1)}
    for stopping in STOPPING:
        samplers[f"beam{beam_size}-{stopping}"] = decoding.get("beam", num_beams=beam_size, length_penalty=0.6,
                                                               stopping=stopping)
    return samplers


def scored(module, pairs):
    """`module`'s translation of `pairs`' sources (traced first): sacreBLEU's scores and the seconds."""
    from lstm_keras.models.translation.metrics import score_translations

    sources = [s for s, _ in pairs]
    module(sources[:2])  # tracing
    start = time.perf_counter()
    hypotheses = module(sources)
    seconds = time.perf_counter() - start
    scores = score_translations(hypotheses, [t for _, t in pairs])
    return {"seconds": round(seconds, 2), "bleu": scores["bleu"],
            "bleu_case_insensitive": scores["bleu_case_insensitive"], "chrf": scores["chrf"]}


def test_set_scores(model_dir, pairs, beam_size):
    """Each decoding of `standard_samplers` on the whole test set: sacreBLEU scores and seconds."""
    return {name: scored(module, pairs)
            for name, module in decoding_modules(model_dir, standard_samplers(beam_size)).items()}


def coverage_scores(model_dir, splits, beam_size, betas, alphas):
    """Beam search with each coverage penalty `beta` and length penalty `alpha` on each split (`{name: pairs}`).

    Returns:
        sacreBLEU's scores and the seconds of every combination and split.
    """
    from lstm_keras import decoding

    samplers = {f"alpha {alpha}, beta {beta}": decoding.get("beam", num_beams=beam_size, length_penalty=alpha,
                                                            coverage_penalty=beta)
                for alpha, beta in itertools.product(alphas, betas)}
    return {f"{name}, {split}": scored(module, pairs)
            for name, module in decoding_modules(model_dir, samplers).items() for split, pairs in splits.items()}


def score_table(title, results):
    """Markdown rows of `{name: scores}` under a header naming `title`."""
    rows = [f"| {title} | BLEU | case-insensitive | chrF | seconds |", "|---|---|---|---|---|"]
    return rows + [f"| {name} | {r['bleu']} | {r['bleu_case_insensitive']} | {r['chrf']} | {r['seconds']} |"
                   for name, r in results.items()]


def saved_model_speed(model_dir, sources, repeats):
    """Sentences per second of the SavedModel signature on CPU, in a process without lstm_keras."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", SERVE_TIMING, os.path.join(model_dir, "saved_model"), str(repeats)],
        input=json.dumps(sources), capture_output=True, text=True, env=env, check=True,
    )
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    return {"seconds": round(timing["seconds"], 3),
            "sentences_per_second": round(timing["sentences"] / timing["seconds"], 1)}


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    results = {"device": "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)",
               "keras": keras.__version__, "tensorflow": tf.__version__}
    model_dir = args.model
    if model_dir is None:
        metrics = train(args)
        model_dir = args.out
        results["training"] = {key: metrics[key] for key in (
            "bleu", "bleu_case_insensitive", "chrf", "bleu_signature", "chrf_signature", "test_perplexity",
            "epochs_trained",
            "train_seconds", "seconds_per_epoch", "pairs", "vocab_sizes", "parameters", "decoding",
        )}
    from lstm_keras.datasets.translation import load_multi30k

    _, valid_pairs, test_pairs = load_multi30k(args.data_dir, *args.direction.split("-"))
    if args.coverage:
        results["coverage"] = coverage_scores(model_dir, {"valid": valid_pairs, "test": test_pairs}, args.beam_size,
                                              args.coverage, args.length_penalties)
        print("\n".join(score_table("alpha, beta, split", results["coverage"])), file=sys.stderr)
        print(json.dumps(results), flush=True)
        return
    sources = [s for s, _ in test_pairs]
    results["test_set"] = test_set_scores(model_dir, test_pairs, args.beam_size)
    results["decoding"] = decoding_speed(model_dir, sources, args.decode_batches, args.beam_size, args.repeats)
    results["saved_model_cpu"] = saved_model_speed(model_dir, sources[: args.decode_batches[-1]], args.repeats)
    results["saved_model_cpu"]["batch"] = args.decode_batches[-1]

    beams = [name for name in results["decoding"][0] if name.startswith("beam") and "_over_" not in name]
    lines = [f"| {row['batch']} | {row['greedy']['seconds']} s ({row['greedy']['sentences_per_second']}/s) | "
             + " | ".join(f"{row[b]['seconds']} s ({row[b]['sentences_per_second']}/s), {row[b + '_over_greedy']}x"
                          for b in beams) + " |"
             for row in results["decoding"]]
    lines += ["", *score_table("decoding (whole test set)", results["test_set"])]
    saved = results["saved_model_cpu"]
    summary = "\n".join([f"| batch | greedy | {' | '.join(beams)} |", "|---" * (len(beams) + 2) + "|", *lines,
                         f"\nSavedModel `translate` (beam, CPU, batch {saved['batch']}): {saved['seconds']} s, "
                         f"{saved['sentences_per_second']} sentences/s"])
    if "training" in results:
        t = results["training"]
        summary = (f"Multi30k de→en test2016: BLEU {t['bleu']} ({t['bleu_signature']}), case-insensitive "
                   f"{t['bleu_case_insensitive']}, chrF {t['chrf']}, "
                   f"{t['decoding']}; training {t['train_seconds']} s ({t['epochs_trained']} epochs)\n\n" + summary)
    print(summary, file=sys.stderr)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
