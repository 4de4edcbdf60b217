import json

import pytest

from kcnn.config import ExperimentConfig, field_name
from kcnn.errors import ConfigError, KcnnError
from kcnn.reports.comparison import compare, find_summary
from kcnn.reports.grouping import (
    apply_filters,
    effects,
    leaderboard,
    load_points,
    parse_filters,
    varying_fields,
)
from kcnn.store import FinishedRun


def _rows(spec):
    """(kernel, dilation, [best accuracies]) → `Store.finished_runs` records."""
    rows, run_id = [], 0
    for kernel, dilation, values in spec:
        for seed, value in enumerate(values):
            run_id += 1
            config = ExperimentConfig(kernel_size=kernel, dilation=dilation, seed=seed)
            rows.append(
                FinishedRun(
                    run_id, config.to_json(), config.config_key, seed, value, value - 0.01, 30.0, 15, 0, None, None
                )
            )
    return rows


SPEC = [(2, 2, [0.70, 0.72, 0.74]), (3, 1, [0.60, 0.602, 0.73]), (4, 1, [0.66]), (2, (2, 1), [0.65, 0.69])]


def test_leaderboard_groups_by_config_and_sorts_by_mean():
    summaries = leaderboard(load_points(_rows(SPEC)))
    assert [s.n for s in summaries] == [3, 2, 1, 3]
    top = summaries[0]
    assert top.mean == pytest.approx(0.72) and top.std == pytest.approx(0.02)
    assert top.best == 0.74 and top.best_run == 3
    assert top.mean_epoch_seconds == pytest.approx(2.0)
    low, high = top.interval
    assert (low + high) / 2 == pytest.approx(0.72)
    assert varying_fields(summaries) == ["kernel_size", "dilation"]


def test_outlier_flag_and_unreplicated():
    summaries = {(s.config["kernel_size"][0], tuple(s.config["dilation"])): s
                 for s in leaderboard(load_points(_rows(SPEC)))}  # fmt: skip
    assert summaries[(3, (1, 1))].likely_outlier  # 0.73 vs 0.60, 0.602: Dixon's Q = 0.985 > 0.970
    assert not summaries[(2, (2, 2))].likely_outlier  # 0.70, 0.72, 0.74: an even spread
    assert not summaries[(2, (2, 1))].likely_outlier  # n = 2: too few runs to call an outlier
    single = summaries[(4, (1, 1))].to_dict()
    assert single["unreplicated"] and single["std"] is None and single["ci95_low"] is None
    json.dumps(single)


def test_final_metric():
    summaries = leaderboard(load_points(_rows(SPEC)), metric="final")
    assert summaries[0].mean == pytest.approx(0.71)


def test_filters_and_names():
    points = load_points(_rows(SPEC))
    assert field_name("kernel") == "kernel_size" and field_name("--input-size") == "input_size"
    with pytest.raises(ConfigError, match="Unknown hyperparameter 'colour'"):
        field_name("colour")
    assert len(apply_filters(points, parse_filters(["kernel=2"]))) == 5
    assert len(apply_filters(points, parse_filters(["dilation=2,1"]))) == 2
    # Values are compared as values, not as the text they are shown with: 2,2 is 2 on every layer.
    assert len(apply_filters(points, parse_filters(["dilation=2,2"]))) == 3
    assert len(apply_filters(points, parse_filters(["dilation=2"]))) == 3
    assert len(apply_filters(points, parse_filters(["dilation=2 1", "kernel=2"]))) == 2
    assert len(apply_filters(points, parse_filters(["channels=16,32"]))) == 9
    assert apply_filters(points, parse_filters(["channels=16"])) == []
    assert len(apply_filters(points, parse_filters(["lr=0.001"]))) == 9
    with pytest.raises(ConfigError, match=r"^`dilation` must be whole numbers, one per conv layer, such as 16,32; "):
        parse_filters(["dilation=two"])
    with pytest.raises(ConfigError, match="A filter is `name=value`"):
        parse_filters(["kernel"])


def test_effects_one_and_two_keys():
    points = load_points(_rows(SPEC))
    by_kernel = {cell.key: cell for cell in effects(points, ["kernel_size"])}
    assert by_kernel[(2,)].n == 5 and by_kernel[(4,)].n == 1
    assert [cell.key for cell in effects(points, ["kernel_size"])] == [(2,), (3,), (4,)]  # by value
    matrix = effects(points, ["kernel_size", "dilation"])
    assert {cell.key for cell in matrix} == {(2, 2), (3, 1), (4, 1), (2, (2, 1))}
    assert matrix[1].to_dict(["kernel_size", "dilation"])["dilation"] == [2, 1]
    with pytest.raises(ConfigError):
        effects(points, ["kernel_size", "dilation", "input_size"])


def test_compare_verdicts():
    summaries = leaderboard(load_points(_rows([(2, 2, [0.80, 0.81, 0.82, 0.80]), (3, 1, [0.60, 0.61, 0.62, 0.6])])))
    clear = compare(summaries[0], summaries[1])
    assert clear.test.p_value < 0.001 and "a real difference" in clear.verdict
    better, worse = summaries[0].config_key[:8], summaries[1].config_key[:8]
    # The verdict names the better configuration, whichever order they are given in.
    for a, b in ((summaries[0], summaries[1]), (summaries[1], summaries[0])):
        verdict = compare(a, b).verdict
        assert verdict.startswith(f"{better} is better than {worse} by 20.00% (95% CI 18.34% to 21.66%"), verdict
        assert "-" not in verdict.split("(95% CI")[1].split(",")[0]
    summaries = leaderboard(load_points(_rows([(2, 2, [0.70, 0.75, 0.65]), (3, 1, [0.69, 0.64, 0.72])])))
    unclear = compare(summaries[0], summaries[1])
    assert unclear.verdict.startswith("Not distinguishable yet") and "runs per configuration" in unclear.verdict
    single = leaderboard(load_points(_rows([(2, 2, [0.7]), (3, 1, [0.6, 0.65])])))
    assert compare(single[0], single[1]).verdict.startswith("Cannot tell")
    with pytest.raises(KcnnError, match="No configuration with finished runs has a key starting with 'zz'"):
        find_summary(summaries, "zz")


def test_n_counts_distinct_seeds_and_the_latest_run_of_a_seed_counts():
    rows = _rows([(2, 2, [0.70, 0.72])])
    config = ExperimentConfig(kernel_size=2, dilation=2, seed=0)
    rows.append(
        FinishedRun(9, config.to_json(), config.config_key, 0, 0.90, 0.89, 30.0, 15, 0, None, None)
    )  # seed 0 trained again
    [summary] = leaderboard(load_points(rows))
    assert summary.n == 2
    assert sorted(summary.values) == [0.72, 0.90] and sorted(summary.seeds) == [0, 1]
