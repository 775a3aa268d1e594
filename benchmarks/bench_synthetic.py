"""What each cell can and cannot do: the generated tasks that separate the cells, and a language-model shoot-out.

Usage:
    # Every study, 3 seeds, the default budgets (hours on 2 CPU cores); results appended to --results
    # (runs already there are skipped, so an interrupted study resumes), tables printed at the end:
    KERAS_BACKEND=tensorflow python benchmarks/bench_synthetic.py --study all --ptb ../shared/datasets/ptb

    # A few minutes: one seed, fewer cells and widths, short budgets:
    KERAS_BACKEND=tensorflow python benchmarks/bench_synthetic.py --study all --quick --ptb ../shared/datasets/ptb

    # Only the tables of what --results holds:
    python benchmarks/bench_synthetic.py --tables

The studies (issue "What each LSTM can and cannot do"):
1. `formal`: parity and modular arithmetic (train lengths 3-40, test 41-256) for the LSTM (vanilla
   and a few gating presets), sLSTM, mLSTM, minLSTM, minGRU and xLSTM[1:1] at one width: the
   scaled accuracy beyond the training lengths.
2. `mqar`: multi-query associative recall, accuracy against width for each cell.
3. `copying`: selective copying with 1, 2 and 3 layers of minLSTM, minGRU and the LSTM.
4. `lm`: PTB test perplexity of `lm train` for each cell at about the parameter count of the
   default LSTM model and the same time budget, with training tokens/s.

Every synthetic run is `lstm-keras synthetic train` (`train_synthetic_task`) with a time budget,
in this process; the language models are `lstm-keras lm train` runs (`train_language_model`).
One JSON line per run goes to `--results`; the tables give the mean and the spread (standard
deviation over the seeds) of each configuration.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = ("lstm", "slstm", "mlstm", "minlstm", "mingru", "xlstm[1:1]")
FORMAL_VARIANTS = [("lstm", None), ("lstm", "cifg"), ("lstm", "peephole"), ("slstm", None), ("mlstm", None),
                   ("minlstm", None), ("mingru", None), ("xlstm[1:1]", None)]
STUDIES = ("formal", "mqar", "copying", "lm")
# The full and --quick settings of every study.
SETTINGS = {
    False: {"seeds": 3, "minutes": 3.0, "formal_tasks": ("parity", "modular-arithmetic"),
            "formal_variants": FORMAL_VARIANTS, "units": 64, "mqar_widths": (16, 32, 64),
            "copying_cells": ("minlstm", "mingru", "lstm"),
            "copying_layers": (1, 2, 3), "lm_cells": ("lstm", "slstm", "mlstm", "minlstm", "xlstm[1:1]"),
            "lm_minutes": 10.0, "cells": CELLS},
    True: {"seeds": 1, "minutes": 0.5, "formal_tasks": ("parity",), "formal_variants": FORMAL_VARIANTS[:1] + [
        ("slstm", None), ("mingru", None)], "units": 32, "mqar_widths": (32,), "copying_cells": ("mingru", "lstm"),
        "copying_layers": (1, 2), "lm_cells": ("lstm", "mingru"), "lm_minutes": 1.5,
        "cells": ("lstm", "mlstm", "mingru")},
}


def runs(study, settings):
    """The runs of a study: dicts of the settings that identify a run (its key in --results)."""
    seeds = range(settings["seeds"])
    if study == "formal":
        return [{"study": study, "task": task, "cell": cell, "gating": gating, "layers": 2 if cell.startswith("xlstm")
                 else 1, "units": settings["units"], "seed": seed}
                for task in settings["formal_tasks"] for cell, gating in settings["formal_variants"] for seed in seeds]
    if study == "mqar":
        return [{"study": study, "task": "mqar", "cell": cell, "gating": None, "layers": 2 if cell.startswith("xlstm")
                 else 1, "units": units, "seed": seed}
                for cell in settings["cells"] for units in settings["mqar_widths"] for seed in seeds]
    if study == "copying":
        return [{"study": study, "task": "selective-copying", "cell": cell, "gating": None, "layers": layers,
                 "units": settings["units"], "seed": seed}
                for cell in settings["copying_cells"] for layers in settings["copying_layers"] for seed in seeds]
    return [{"study": study, "task": "ptb", "cell": cell, "seed": seed}
            for cell in settings["lm_cells"] for seed in seeds]


def run_synthetic(run, minutes):
    from lstm_keras.models.synthetic import make_config
    from lstm_keras.models.synthetic import train_synthetic_task

    config = make_config(task=run["task"], cell=run["cell"], gating=run["gating"], layers=run["layers"],
                         units=run["units"], seed=run["seed"], time_budget=minutes, epochs=1000)
    with tempfile.TemporaryDirectory() as out:
        metrics = train_synthetic_task(config, out)
    return {"score": metrics["score"], "by_length": {k: v["scaled"] for k, v in metrics["by_length"].items()},
            "parameters": metrics["parameters"], "epochs": metrics["epochs_trained"]}


def matched_units(cell, target, layers=2):
    """The width of `cell` whose `lm train` model has the parameter count closest to `target`."""
    from lstm_keras.models.language_modeling import LanguageModel

    def count(units):
        return LanguageModel(10002, embedding_dim=units, units=units, num_layers=layers, cell=cell, tie_weights=True,
                             softmax="adaptive", cutoffs=[2000]).count_params()

    return min(range(64, 513, 8), key=lambda units: abs(count(units) - target))


def run_language_model(run, ptb, minutes):
    from lstm_keras.models.language_modeling import LanguageModel
    from lstm_keras.models.language_modeling import make_config
    from lstm_keras.models.language_modeling import train_language_model

    target = LanguageModel(10002, embedding_dim=200, units=200, num_layers=2, tie_weights=True, softmax="adaptive",
                           cutoffs=[2000]).count_params()  # the default lm train model on PTB, with a budget
    units = matched_units(run["cell"], target)
    config = make_config(dataset="ptb", data_dir=ptb, cell=run["cell"], units=units, seed=run["seed"],
                         time_budget=minutes, epochs=1000)
    with tempfile.TemporaryDirectory() as out:
        metrics = train_language_model(config, out)
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
            groups.setdefault((run["task"], name), []).append(row)
        measure = ("test perplexity" if study == "lm"
                   else "scaled score beyond the training lengths (1 perfect, 0 chance)")
        lines += ["", f"{study}: {measure}", "", "| task | configuration | seeds | mean | spread | parameters | more |",
                  "|---|---|---|---|---|---|---|"]
        for (task, name), group in groups.items():
            scores = [g["score"] for g in group]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            extra = ""
            if study == "lm":
                extra = f"{statistics.mean(g['train_tokens_per_second'] for g in group):,.0f} tokens/s"
            elif study == "formal":
                buckets = group[0]["by_length"]
                extra = ", ".join(f"{b}: {statistics.mean(g['by_length'][b] for g in group):.2f}" for b in buckets)
            lines.append(f"| {task} | {name} | {len(scores)} | {statistics.mean(scores):.3f} | {spread:.3f} | "
                         f"{group[0]['parameters']:,} | {extra} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", choices=STUDIES + ("all",), default="all")
    parser.add_argument("--quick", action="store_true", help="one seed, fewer cells, short budgets")
    parser.add_argument("--ptb", help="the folder of PTB (ptb.train.txt.gz, ...): needed by the lm study")
    parser.add_argument("--minutes", type=float, help="the time budget of a synthetic run (default: 3, quick 0.5)")
    parser.add_argument("--lm-minutes", type=float, help="the time budget of a language model (default: 10)")
    parser.add_argument("--results", default=os.path.join(ROOT, "runs", "bench_synthetic.jsonl"))
    parser.add_argument("--tables", action="store_true", help="print the tables of --results and stop")
    args = parser.parse_args()
    if not args.tables:
        settings = dict(SETTINGS[args.quick])
        minutes = args.minutes or settings["minutes"]
        lm_minutes = args.lm_minutes or settings["lm_minutes"]
        done = {key_of(r["run"]) for r in read_results(args.results)}
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        for study in STUDIES if args.study == "all" else (args.study,):
            if study == "lm" and not args.ptb:
                print("lm study skipped: give --ptb", file=sys.stderr)
                continue
            for run in runs(study, settings):
                if key_of(run) in done:
                    continue
                print(f"bench_synthetic: {run}", file=sys.stderr, flush=True)
                result = (run_language_model(run, args.ptb, lm_minutes) if study == "lm"
                          else run_synthetic(run, minutes))
                with open(args.results, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"run": run, **result}) + "\n")
    print(tables(read_results(args.results)))


if __name__ == "__main__":
    main()
