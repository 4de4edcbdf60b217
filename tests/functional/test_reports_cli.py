import csv
import io
import json
import re

import pytest

from kcnn.cli import main
from kcnn.store import Store


def test_leaderboard_table_and_json(swept, capsys):
    assert main(["leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "excluded: 1 queued, 1 failed" in out
    assert "72.00% ± 2.00%" in out and "80.00% (12)" in out
    assert "80.00% (12) !" not in out  # 0.60, 0.61, 0.80: Dixon's Q = 0.95, below the 0.970 needed at n = 3
    assert main(["leaderboard", "--top", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["configs"]) == 2 and data["excluded"]["failed"] == 1
    top = data["configs"][0]
    assert top["n"] == 3 and top["mean"] == pytest.approx(0.72) and top["std"] == pytest.approx(0.02)
    assert top["config"]["kernel_size"] == [2, 2]
    assert main(["leaderboard", "--filter", "kernel=3", "--format", "json"]) == 0
    assert {c["config"]["kernel_size"][0] for c in json.loads(capsys.readouterr().out)["configs"]} == {3}
    assert main(["leaderboard", "--metric", "final", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["configs"][0]["mean"] == pytest.approx(0.70)


@pytest.mark.parametrize(
    ("text", "dilations"), [("2,2", [[2, 2], [2, 2]]), ("2", [[2, 2], [2, 2]]), ("1,1", [[1, 1]] * 2)]
)
def test_filters_compare_values_not_display_text(swept, capsys, text, dilations):
    assert main(["leaderboard", "--filter", f"dilation={text}", "--format", "json"]) == 0
    configs = json.loads(capsys.readouterr().out)["configs"]
    assert [c["config"]["dilation"] for c in configs] == dilations
    assert main(["leaderboard", "--filter", "dilation=2,1"]) == 2  # a valid filter that matches nothing
    assert "No finished runs to rank" in capsys.readouterr().err


def test_effect_tables(swept, capsys):
    assert main(["compare", "--by", "kernel_size,dilation"]) == 0
    out = capsys.readouterr().out
    assert "Effect of kernel_size × dilation" in out and "72.00% ± 2.00% (3)" in out
    assert main(["compare", "--by", "dilation", "--format", "json"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    assert [(c["dilation"], c["n"]) for c in cells] == [(1, 6), (2, 6)]  # values, not display strings
    assert main(["compare", "--by", "colour"]) == 2
    assert "Unknown hyperparameter 'colour'" in capsys.readouterr().err


def test_ab_comparison_defaults_to_top_two(swept, capsys):
    assert main(["compare", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["mean"] == pytest.approx(0.72) and 0 <= data["p_value"] <= 1
    assert data["ci95_low"] < data["difference"] < data["ci95_high"]
    key_a, key_b = data["a"]["config_key"][:6], data["b"]["config_key"][:6]
    assert main(["compare", key_a, key_b]) == 0
    assert "Welch t-test" in capsys.readouterr().out
    assert main(["compare", key_a]) == 2


def test_curves_and_show(swept, capsys):
    assert main(["run", "curves", "1"]) == 0
    out = capsys.readouterr().out
    assert "run 1 accuracy" in out and "val accuracy" in out and "epoch 3" in out
    assert main(["run", "curves", "1", "2", "4"]) == 0
    assert "run 4" in capsys.readouterr().out
    assert main(["run", "show", "2"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_curves_png(swept, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["run", "curves", "1", "2", "--png", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_export_runs_and_epochs(swept, tmp_path, capsys):
    assert main(["runs", "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 14 and {"id", "state", "best_val_accuracy", "config.kernel_size"} <= set(rows[0])
    assert main(["runs", "export", "--format", "json", "--table", "epochs", "--state", "done"]) == 0
    epochs = json.loads(capsys.readouterr().out)
    assert len(epochs) == 12 * 3 and {"run_id", "config_key", "epoch", "val_accuracy"} <= set(epochs[0])
    assert [(e["run_id"], e["epoch"]) for e in epochs[:4]] == [(1, 1), (1, 2), (1, 3), (2, 1)]
    assert main(["runs", "export", "--table", "epochs", "-o", str(tmp_path / "e.csv")]) == 0
    assert (tmp_path / "e.csv").read_text().startswith("run_id,config_key,seed,fold,state")


def test_plan_draws_the_dilated_footprint(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["plan", "--kernel", "2", "--dilation", "2"]) == 0
    out = capsys.readouterr().out
    assert "reads 4 of the 3×3 pixels it spans" in out
    assert "■ · ■\n" in out.replace(" \n", "\n") and "· · ·" in out


def test_a_mistyped_store_is_one_line_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "kcnn-runz"
    for command in (
        ["leaderboard"],
        ["runs"],
        ["run", "show", "1"],
        ["compare"],
        ["runs", "export"],
        ["store", "info"],
    ):
        assert main([*command, "--store", str(missing)]) == 2, command
        assert capsys.readouterr().err.startswith(f"error: There is no kcnn store at '{missing}'"), command
    assert list(tmp_path.iterdir()) == []


def test_empty_store_reports_say_what_to_do(store_path, capsys):
    Store(store_path).close()
    assert main(["leaderboard"]) == 2
    assert "No finished runs to rank" in capsys.readouterr().err
    assert main(["compare"]) == 2


def test_export_refuses_unknown_states_and_unwritable_outputs_in_one_line(swept, tmp_path, capsys):
    assert main(["runs", "export", "--state", "bogus"]) == 2
    assert "argument --state: invalid choice: 'bogus'" in capsys.readouterr().err
    for target in (tmp_path / "missing" / "x.csv", tmp_path):
        assert main(["runs", "export", "--output", str(target)]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: Cannot write `--output {target}`: ") and error.count("\n") == 1, error


@pytest.mark.parametrize("width", [50, 60, 80, 100])
def test_narrow_tables_hide_whole_columns_and_never_cut_a_number(swept, capsys, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    for command in (["leaderboard"], ["runs"], ["compare", "--by", "kernel,dilation"], ["compare"]):
        assert main(command) == 0, command
        out = capsys.readouterr().out
        assert not re.search(r"\S…", out), (command, out)  # Rich's cut ("93…"); " … " in a range is content
        assert max(len(line) for line in out.splitlines()) <= width, (command, out)
    assert main(["leaderboard"]) == 0
    out = capsys.readouterr().out
    for mean in ("72.00% ± 2.00%", "67.00% ± 11.27%", "62.00% ± 1.00%", "59.00% ± 1.00%"):
        assert mean in out.replace("\n", "") or mean.split(" ± ")[0] in out, (mean, out)
    hidden = "hidden to fit" in " ".join(out.split())
    assert hidden == (width < 100), out


def test_piped_output_without_a_width_and_wide_print_every_column(swept, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS")
    assert main(["leaderboard"]) == 0  # capsys: not a terminal, COLUMNS unset
    piped = capsys.readouterr().out
    assert "s/epoch" in piped and "95% CI" in piped and "hidden" not in piped
    monkeypatch.setenv("COLUMNS", "40")
    assert main(["leaderboard", "--wide"]) == 0
    assert capsys.readouterr().out == piped


def test_effects_ranks_hyperparameters_with_f_tests_and_verdicts(swept, capsys):
    assert main(["effects", "--format", "json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert (analysis["runs"], analysis["configurations"], analysis["noise_df"]) == (12, 4, 8)
    assert analysis["sums_of_squares"] == "Type II" and analysis["effect_size"] == "omega squared"
    names = [term["name"] for term in analysis["terms"]]
    assert sorted(names) == ["dilation", "kernel_size"]
    dilation = next(term for term in analysis["terms"] if term["name"] == "dilation")
    assert dilation["real"] and dilation["verdict"].startswith("real (p = ")
    assert main(["effects"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Which hyperparameters matter" in out and "seed noise: σ =" in out and "Type II" in out
    assert main(["effects", "--by", "kernel,dilation", "--format", "json"]) == 0
    terms = json.loads(capsys.readouterr().out)["terms"]
    assert "kernel_size × dilation" in [term["name"] for term in terms]
    assert main(["compare", "--by", "dilation"]) == 0
    assert "F-test · dilation: real (p = " in capsys.readouterr().out
    assert main(["effects", "--by", "kernel"]) == 2
    assert "takes 2 hyperparameter(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["effects", "--by", "kernel_size,kernel_size"], "`--by` names kernel_size twice; give different"),
        (["effects", "--by", "kernel,kernel_size"], "`--by` names kernel_size twice"),
        (["effects", "--by", "bogus"], "Unknown hyperparameter 'bogus'"),
        (["effects", "--by", "kernel,bogus"], "Unknown hyperparameter 'bogus'"),
        (["effects", "--by", ""], "`--by` needs hyperparameter names separated by commas"),
        (["effects", "--by", "kernel"], "`--by` takes 2 hyperparameter(s), such as `--by kernel_size,dilation`; got 1"),
        (["compare", "--by", ""], "`--by` needs hyperparameter names separated by commas"),
        (["compare", "--by", "dilation,dilation"], "`--by` names dilation twice"),
        (["compare", "--by", "kernel,dilation,seed"], "Unknown hyperparameter 'seed'"),
    ],
)
def test_by_names_each_mistake_in_one_line(swept, capsys, argv, message):
    """Issue 23, case 21: a repeated name gave a df-0 row, `bogus` was "takes two hyperparameters", `` was accepted."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_compare_refuses_a_configuration_against_itself(swept, capsys):
    assert main(["leaderboard", "--format", "json"]) == 0
    key = json.loads(capsys.readouterr().out)["configs"][0]["config_key"]
    assert main(["compare", key, key[:6]]) == 2
    assert "are the same configuration" in capsys.readouterr().err


def test_an_interval_from_two_runs_stays_within_what_an_accuracy_can_be_and_says_it_means_little(store_path, capsys):
    """Issue 23, case 24: n = 2 showed "95% CI −118.6%–272.4%"."""
    from kcnn.config import ExperimentConfig
    from kcnn.contract import EpochRecord, RunSummary
    from kcnn.store import Store

    with Store(store_path) as store:
        for seed, accuracy in enumerate((0.2, 0.95)):
            [added] = store.add_runs([ExperimentConfig(epochs=1, seed=seed)])
            claim = store.claim("w", run_id=added.run_id)
            store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=accuracy, seconds=1.0))
            store.finish(claim, RunSummary({"params": 10, "flops_per_image": 20, "device": "cpu"}))
    assert main(["leaderboard", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["configs"]
    assert (row["ci95_low"], row["ci95_high"]) == (0.0, 1.0)
    assert main(["leaderboard"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0.0%–100.0% (n=2)" in out and "it says little until n ≥ 3" in out
