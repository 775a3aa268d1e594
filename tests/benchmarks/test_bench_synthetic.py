"""`benchmarks/bench_synthetic.py`: the runs of each study and the tables of their results (no training here)."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("bench_synthetic", os.path.join(ROOT, "benchmarks", "bench_synthetic.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_every_study_has_its_configurations_and_seeds():
    formal = bench.runs("formal")
    assert len(formal) == 2 * len(bench.FORMAL_VARIANTS) * 3
    assert {r["seed"] for r in formal} == {0, 1, 2} and {r["task"] for r in formal} == {"parity", "modular-arithmetic"}
    assert all(r["layers"] == (2 if r["cell"] == "xlstm[1:1]" else 1) for r in formal)
    mqar = bench.runs("mqar")
    assert {r["units"] for r in mqar} == {16, 32, 64} and {r["cell"] for r in mqar} == set(bench.CELLS)
    copying = bench.runs("copying")
    expected = {(cell, layers) for cell in ("minlstm", "mingru", "lstm") for layers in (1, 2, 3)}
    assert {(r["cell"], r["layers"]) for r in copying} == expected
    assert {r["cell"] for r in bench.runs("lm")} == {"lstm", "slstm", "mlstm", "minlstm", "xlstm[1:1]"}
    for run in formal + mqar + copying:  # every run is a valid `synthetic train` config, trained without a budget
        config = bench.synthetic_config(run)
        assert config.time_budget is None and config.seed == run["seed"] and config.task == run["task"]
    assert {tuple(bench.synthetic_config(r).train_lengths) for r in formal} == {(1, 40)}
    keys = [bench.key_of(r) for study in bench.STUDIES for r in bench.runs(study)]
    assert len(keys) == len(set(keys))  # a run is found again in --results by its key


def test_tables_give_the_mean_and_spread_of_each_configuration():
    run = {"study": "formal", "task": "parity", "cell": "lstm", "gating": "cifg", "layers": 1, "units": 8}
    results = [{"run": {**run, "seed": seed}, "score": score, "parameters": 100,
                "by_length": {"3-40": score + 0.1, "41-64": score}} for seed, score in ((0, 0.2), (1, 0.4))]
    lm = {"study": "lm", "task": "ptb", "cell": "mingru", "minutes": 4.0}
    results.append({"run": {**lm, "seed": 0}, "score": 150.0, "parameters": 1000, "train_tokens_per_second": 5000.0})
    results.append({"run": {**lm, "seed": 1}, "score": None, "diverged": "nan", "units": 8, "parameters": None})
    results.append({"run": {**lm, "minutes": 2.0, "seed": 0}, "score": 300.0, "parameters": 1000,
                    "train_tokens_per_second": 4000.0})
    table = bench.tables(results)
    assert "| parity | lstm (cifg) | 2 | 0.300 | 0.141 | 100 | 3-40: 0.40, 41-64: 0.30 |" in table
    assert "| ptb | mingru, 4 min | 1 | 150.000 | 0.000 | 1,000 | 1 diverged (left out); 5,000 tokens/s |" in table
    assert "| ptb | mingru, 2 min | 1 | 300.000 | 0.000 | 1,000 | 4,000 tokens/s |" in table


@pytest.mark.parametrize("study", bench.STUDIES)
def test_fewer_seeds_are_the_first_runs(study):
    one = [bench.key_of(r) for r in bench.runs(study, seeds=1)]
    assert one and set(one) == {bench.key_of(r) for r in bench.runs(study) if r["seed"] == 0}


@pytest.mark.parametrize("study", bench.STUDIES)
def test_quick_mode_is_smaller(study):
    assert 0 < len(bench.runs(study, quick=True)) < len(bench.runs(study))
