"""`benchmarks/bench_classification.py`: its `--set` overrides and an ensemble run end to end (tiny)."""

import argparse
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_classification", os.path.join(ROOT, "benchmarks", "bench_classification.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def settings(bench, run, *overrides):
    args = argparse.Namespace(epochs=None, time_budget=None, set=list(overrides))
    return bench._settings(args, bench.CONFIGS[run])


def test_set_routes_each_key_to_the_model_or_the_training(bench):
    model, fit = settings(bench, "imdb", "members=1", "units=32", "pooling=max", "bucket_boundaries=[8,16]")
    assert fit["members"] == 1 and fit["bucket_boundaries"] == [8, 16] and "units" not in fit
    assert model["units"] == 32 and model["pooling"] == "max" and "members" not in model
    assert bench.CONFIGS["imdb"]["fit"]["members"] == 3  # the configuration itself is not changed
    with pytest.raises(SystemExit, match="'unitz' is neither"):
        settings(bench, "imdb", "unitz=3")


@pytest.mark.large  # trains an ensemble end to end: run it with --large before a benchmark run
def test_an_ensemble_run_reports_the_ensemble_and_each_member(bench, tmp_path, capsys):
    out = tmp_path / "bench"
    assert bench.main(["presets", "--presets", "vanilla", "--epochs", "1", "--set", "members=2", "--set", "units=8",
                       "--seed", "7", "--verbose", "0", "--out", str(out)]) == 0
    [result] = json.loads((out / "presets.json").read_text())
    assert [member["seed"] for member in result["members"]] == [7, 8]
    assert all(0 <= member["accuracy"] <= 1 and member["epochs"] == 1 for member in result["members"])
    assert result["epochs"] == 2 and 0 <= result["accuracy"] <= 1 and result["test_examples"] > 0
    assert os.path.isdir(out / "presets" / "vanilla" / "member_2")
    assert "the ensemble's members alone: seed 7:" in capsys.readouterr().out
