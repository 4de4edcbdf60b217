"""The run contract: a metric added in one place (`kcnn.contract.METRICS`) reaches every face."""

import json
import math

import pytest

import kcnn.contract
from kcnn.cli import main
from kcnn.contract import Metric

TINY = ["--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "2", "--device", "cpu"]


@pytest.fixture
def final_train_loss(monkeypatch):
    """A metric the contract did not have: the last epoch's training loss, added in one place."""
    metric = Metric("final_train_loss", "REAL", "Training loss of the last epoch.", lambda r: r.history[-1].loss)
    monkeypatch.setattr(kcnn.contract, "METRICS", (*kcnn.contract.METRICS, metric))
    return metric


@pytest.mark.slow
def test_a_metric_added_in_one_place_is_in_the_store_runs_export_and_leaderboard(final_train_loss, store_path, capsys):
    assert main(["train", *TINY, "--format", "json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    expected = trained["history"][-1]["loss"]
    assert math.isfinite(expected)

    from kcnn.store import Store

    with Store(store_path) as store:
        [run] = store.runs()
    assert run.metrics["final_train_loss"] == pytest.approx(expected)

    assert main(["runs", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["final_train_loss"] == pytest.approx(expected)

    assert main(["runs", "export", "--format", "json"]) == 0
    [exported] = json.loads(capsys.readouterr().out)
    assert exported["final_train_loss"] == pytest.approx(expected)

    assert main(["runs", "export"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "final_train_loss" in header.split(",")

    assert main(["leaderboard", "--format", "json"]) == 0
    [config] = json.loads(capsys.readouterr().out)["configs"]
    assert config["metrics"]["final_train_loss"] == pytest.approx(expected)


def test_a_store_made_before_a_metric_asks_for_an_upgrade_that_adds_its_column(store_path, monkeypatch, capsys):
    from kcnn.store import Store

    Store(store_path).close()  # made before the metric existed
    metric = Metric("peak_memory_mb", "REAL", "Peak memory.", lambda r: None)
    monkeypatch.setattr(kcnn.contract, "METRICS", (*kcnn.contract.METRICS, metric))
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "has no column yet for the metric(s) peak_memory_mb" in err and "kcnn store upgrade" in err
    assert main(["store", "info", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["needs_upgrade"] is True
    assert main(["store", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["runs", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_metric_name_must_be_a_column_name():
    with pytest.raises(ValueError, match=r"^A metric needs an identifier as its `name`"):
        Metric("peak memory; DROP TABLE runs", "REAL", "no", lambda r: None)
