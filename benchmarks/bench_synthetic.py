"""What each cell can and cannot do: the generated tasks that separate the cells, and a language-model shoot-out.

Usage:
    # Every study, 3 seeds (hours on 2 CPU cores: see BENCHMARKS.md); results appended to --results
    # (runs already there are skipped, so an interrupted study resumes), tables printed at the end;
    # two synthetic runs at a time, one thread each:
    KERAS_BACKEND=tensorflow python benchmarks/bench_synthetic.py --study all --jobs 2 --ptb ../shared/datasets/ptb

    # A few minutes: one seed, fewer cells and widths, shorter training:
    KERAS_BACKEND=tensorflow python benchmarks/bench_synthetic.py --study all --quick --ptb ../shared/datasets/ptb

    # Only the tables of what --results holds:
    python benchmarks/bench_synthetic.py --tables

The studies (issue "What each LSTM can and cannot do"):
1. `formal`: parity and modular arithmetic (train lengths 1-40, test 41-256) for the LSTM (vanilla
   and a few gating presets), sLSTM, mLSTM, minLSTM, minGRU and xLSTM[1:1] at one width: the
   scaled accuracy beyond the training lengths.
2. `mqar`: multi-query associative recall (8 pairs in 48 tokens), accuracy against width for each cell.
3. `copying`: selective copying with 1, 2 and 3 layers of minLSTM, minGRU and the LSTM.
4. `lm`: PTB test perplexity of `lm train` for each cell at about the parameter count of the
   default LSTM model and the same time budget (4 minutes: with less, `lm train` refuses the
   xLSTM, whose evaluation and export alone take about two), with training tokens/s.

Every synthetic run is `lstm-keras synthetic train` (`train_synthetic_task`) for a fixed number of
steps (`TRAINING`); the language models are `lstm-keras lm train` runs (`train_language_model`)
with a time budget, one at a time.
One JSON line per run goes to `--results`; the tables give the mean and the spread (standard
deviation over the seeds) of each configuration.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = ("lstm", "slstm", "mlstm", "minlstm", "mingru", "xlstm[1:1]")
FORMAL_VARIANTS = [("lstm", None), ("lstm", "cifg"), ("lstm", "peephole"), ("slstm", None), ("mlstm", None),
                   ("minlstm", None), ("mingru", None), ("xlstm[1:1]", None)]
STUDIES = ("formal", "mqar", "copying", "lm")
# The training of the synthetic studies: a number of steps, not a time budget, so that a run's result does not
# depend on the machine's load (and `--jobs` runs can share the cores). The formal languages train on lengths from
# 1: the tasks' own 3-40 leave out the shortest strings, and without them no cell learnt parity in these budgets.
TRAINING = {
    False: {"steps_per_epoch": 100, "batch_size": 64, "learning_rate": 1e-2, "patience": 5},
    True: {"steps_per_epoch": 50, "batch_size": 64, "learning_rate": 1e-2, "patience": 5},
}
EPOCHS = {False: {"formal": 15, "mqar": 8, "copying": 8}, True: {"formal": 4, "mqar": 4, "copying": 4}}
FORMAL_LENGTHS = {"train_lengths": (1, 40), "test_lengths": ((1, 40), (41, 64), (65, 128), (129, 256))}
# MQAR at the size of tutorial 07's full setting (the task's default, 16 pairs in 64 tokens, is for longer training).
MQAR_SIZES = {"mqar_pairs": 8, "mqar_keys": 32, "mqar_values": 32, "train_lengths": (48, 48)}
# The full and --quick settings of every study.
SETTINGS = {
    False: {"seeds": 3, "formal_tasks": ("parity", "modular-arithmetic"), "formal_variants": FORMAL_VARIANTS,
            "units": 32, "mqar_widths": (16, 32, 64), "copying_cells": ("minlstm", "mingru", "lstm"),
            "copying_layers": (1, 2, 3), "lm_cells": ("lstm", "slstm", "mlstm", "minlstm", "xlstm[1:1]"),
            "lm_minutes": 4.0, "cells": CELLS},
    True: {"seeds": 1, "formal_tasks": ("parity",),
           "formal_variants": FORMAL_VARIANTS[:1] + [("slstm", None), ("mingru", None)],
           "units": 32, "mqar_widths": (32,), "copying_cells": ("mingru", "lstm"), "copying_layers": (1, 2),
           "lm_cells": ("lstm", "mingru"), "lm_minutes": 1.0, "cells": ("lstm", "mlstm", "mingru")},
}


def runs(study, quick=False, seeds=None):
    """The runs of a study: dicts of the settings that identify a run (its key in --results).

    `seeds`: how many seeds (default: the setting's); the first seeds' runs are the same whatever the number.
    """
    settings = SETTINGS[quick]
    seeds = range(seeds or settings["seeds"])
    if study == "lm":
        return [{"study": study, "task": "ptb", "cell": cell, "minutes": settings["lm_minutes"], "seed": seed}
                for cell in settings["lm_cells"] for seed in seeds]
    if study == "formal":
        configurations = [(task, cell, gating, settings["units"], 1) for task in settings["formal_tasks"]
                          for cell, gating in settings["formal_variants"]]
    elif study == "mqar":
        configurations = [("mqar", cell, None, units, 1) for cell in settings["cells"]
                          for units in settings["mqar_widths"]]
    else:
        configurations = [("selective-copying", cell, None, settings["units"], layers)
                          for cell in settings["copying_cells"] for layers in settings["copying_layers"]]
    lengths = {"formal": FORMAL_LENGTHS, "mqar": MQAR_SIZES}.get(study, {})
    return [{"study": study, "task": task, "cell": cell, "gating": gating,
             "layers": 2 * layers if cell.startswith("xlstm") else layers, "units": units, **lengths,
             **TRAINING[quick], "epochs": EPOCHS[quick][study], "seed": seed}
            for task, cell, gating, units, layers in configurations for seed in seeds]


def synthetic_config(run):
    """The `train_synthetic_task` config of a run of a synthetic study."""
    from lstm_keras.models.synthetic import make_config

    return make_config(**{key: value for key, value in run.items() if key != "study"})


def run_synthetic(run):
    """Trains and scores one run of a synthetic study (`train_synthetic_task`, no time budget)."""
    from lstm_keras.models.synthetic import train_synthetic_task

    with tempfile.TemporaryDirectory() as out:
        metrics = train_synthetic_task(synthetic_config(run), out)
    return {"score": metrics["score"], "by_length": {k: v["scaled"] for k, v in metrics["by_length"].items()},
            "parameters": metrics["parameters"], "epochs": metrics["epochs_trained"],
            "train_seconds": metrics["train_seconds"]}


def matched_units(cell, target, layers=2):
    """The width of `cell` whose `lm train` model has the parameter count closest to `target`."""
    from lstm_keras.models.language_modeling import LanguageModel

    def count(units):
        return LanguageModel(10002, embedding_dim=units, units=units, num_layers=layers, cell=cell, tie_weights=True,
                             softmax="adaptive", cutoffs=[2000]).count_params()

    return min(range(64, 513, 8), key=lambda units: abs(count(units) - target))


def run_language_model(run, ptb):
    from lstm_keras.models.language_modeling import LanguageModel
    from lstm_keras.models.language_modeling import make_config
    from lstm_keras.models.language_modeling import train_language_model

    target = LanguageModel(10002, embedding_dim=200, units=200, num_layers=2, tie_weights=True, softmax="adaptive",
                           cutoffs=[2000]).count_params()  # the default lm train model on PTB, with a budget
    units = matched_units(run["cell"], target)
    config = make_config(dataset="ptb", data_dir=ptb, cell=run["cell"], units=units, seed=run["seed"],
                         time_budget=run["minutes"], epochs=1000)
    from lstm_keras.training import NonFiniteLossError

    with tempfile.TemporaryDirectory() as out:
        try:
            metrics = train_language_model(config, out)
        except NonFiniteLossError as error:  # a result too: the cell diverged with its default recipe
            return {"score": None, "diverged": str(error), "units": units, "parameters": None}
    return {"score": metrics["test_perplexity"], "units": units, "parameters": metrics["parameters"],
            "train_tokens_per_second": metrics["train_tokens_per_second"], "epochs": metrics["epochs_trained"]}


def key_of(run):
    return json.dumps(run, sort_keys=True)


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tables(results):
    """Markdown tables: for each study and task, the mean and spread of `score` of each configuration."""
    lines = []
    for study in STUDIES:
        rows = [r for r in results if r["run"]["study"] == study]
        if not rows:
            continue
        groups = {}
        for row in rows:
            run = row["run"]
            name = run["cell"] + (f" ({run['gating']})" if run.get("gating") else "")
            if study == "mqar":
                name += f", width {run['units']}"
            if study == "copying":
                name += f", {run['layers']} layer{'s' if run['layers'] > 1 else ''}"
            if study == "lm":
                name += f", {run['minutes']:g} min"
            groups.setdefault((run["task"], name), []).append(row)
        measure = {"lm": "test perplexity (lower is better)",
                   "formal": "scaled accuracy beyond the training lengths (1 perfect, 0 chance)"}.get(
            study, "scaled accuracy on fresh test sequences (1 perfect, 0 chance)")
        lines += ["", f"{study}: {measure}", "", "| task | configuration | seeds | mean | spread | parameters | more |",
                  "|---|---|---|---|---|---|---|"]
        for (task, name), group in groups.items():
            diverged = len([g for g in group if g["score"] is None])
            group = [g for g in group if g["score"] is not None]
            if not group:
                lines.append(f"| {task} | {name} | 0 | | | | {diverged} diverged |")
                continue
            scores = [g["score"] for g in group]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            extra = f"{diverged} diverged (left out); " if diverged else ""
            if study == "lm":
                extra += f"{statistics.mean(g['train_tokens_per_second'] for g in group):,.0f} tokens/s"
            elif study == "formal":
                buckets = group[0]["by_length"]
                extra += ", ".join(f"{b}: {statistics.mean(g['by_length'][b] for g in group):.2f}" for b in buckets)
            lines.append(f"| {task} | {name} | {len(scores)} | {statistics.mean(scores):.3f} | {spread:.3f} | "
                         f"{group[0]['parameters']:,} | {extra} |")
    return "\n".join(lines)


def single_threaded():
    """A `--jobs` worker: one thread per process, so that the jobs share the cores instead of fighting for them."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", choices=STUDIES + ("all",), default="all")
    parser.add_argument("--quick", action="store_true", help="one seed, fewer cells, shorter training")
    parser.add_argument("--ptb", help="the folder of PTB (ptb.train.txt.gz, ...): needed by the lm study")
    parser.add_argument("--jobs", type=int, default=1,
                        help="synthetic runs trained at once, one thread each (their results do not depend on it; "
                             "the language models, timed, always run one at a time)")
    parser.add_argument("--seeds", type=int, help="seeds per configuration (default: 3, quick 1)")
    parser.add_argument("--cells", help="only the runs of these cells, comma-separated (e.g. mlstm,xlstm[1:1])")
    parser.add_argument("--results", default=os.path.join(ROOT, "runs", "bench_synthetic.jsonl"))
    parser.add_argument("--tables", action="store_true", help="print the tables of --results and stop")
    args = parser.parse_args()
    if not args.tables:
        done = {key_of(r["run"]) for r in read_results(args.results)}
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)

        def record(run, result):
            with open(args.results, "a", encoding="utf-8") as f:
                f.write(json.dumps({"run": run, **result}) + "\n")

        studies = STUDIES if args.study == "all" else (args.study,)
        if "lm" in studies and not args.ptb:
            print("lm study skipped: give --ptb", file=sys.stderr)
        todo = [run for study in studies if study != "lm" or args.ptb for run in runs(study, args.quick, args.seeds)
                if key_of(run) not in done and (not args.cells or run["cell"] in args.cells.split(","))]
        synthetic = [run for run in todo if run["study"] != "lm"]
        with concurrent.futures.ProcessPoolExecutor(
                args.jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=single_threaded if args.jobs > 1 else None) as pool:
            futures = {pool.submit(run_synthetic, run): run for run in synthetic}
            for future in concurrent.futures.as_completed(futures):
                print(f"bench_synthetic: {futures[future]}", file=sys.stderr, flush=True)
                record(futures[future], future.result())
        for run in [run for run in todo if run["study"] == "lm"]:
            print(f"bench_synthetic: {run}", file=sys.stderr, flush=True)
            record(run, run_language_model(run, args.ptb))
    print(tables(read_results(args.results)))


if __name__ == "__main__":
    main()
