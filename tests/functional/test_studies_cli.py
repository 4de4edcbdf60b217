"""`kcnn race`, `kcnn studies` and `kcnn study show|stop` end to end, with real workers advancing the race."""

import json

import pytest

from kcnn.cli import main
from kcnn.store import Store

TINY = ["--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "1"]


@pytest.mark.slow
def test_a_race_run_by_a_real_worker_ends_with_a_verdict(store_path, capsys):
    assert main(["queue", "add", *TINY, "--kernel", "2", "3"]) == 0
    assert main(["worker", "--once", "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main(["race", "--top", "2", "--max-repeats", "3"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("race 1 started on ") and "4 run(s) queued" in out
    assert main(["runs", "--state", "queued"]) == 0
    assert "study 1" in capsys.readouterr().out  # the queue marks a study's runs
    assert main(["worker", "--once", "--jobs", "1"]) == 0  # runs the race's runs and advances it
    capsys.readouterr()
    assert main(["studies", "--format", "json"]) == 0
    [study] = json.loads(capsys.readouterr().out)
    assert study["kind"] == "race" and study["state"] == "done" and study["runs_by_state"] == {"done": 4}
    assert study["verdict"].startswith("not separable within 3 repeats") or " wins: " in study["verdict"]
    assert main(["study", "show", "1"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "Study 1 (race, done)" in shown and "verdict:" in shown
    with Store(store_path) as store:
        assert store.integrity_check() == "ok"
        seeds = [(run.config_key, run.seed) for run in store.runs()]
    assert len(seeds) == len(set(seeds)) == 6  # each configuration at three distinct seeds


def test_stop_cancels_the_queued_runs_and_mistakes_are_one_line(store_path, capsys):
    assert main(["race"]) == 2  # no store yet
    assert "There is no kcnn store" in capsys.readouterr().err
    assert main(["queue", "add", *TINY, "--kernel", "2"]) == 0
    capsys.readouterr()
    assert main(["race"]) == 2
    err = capsys.readouterr().err
    assert "A race needs at least two configurations with done runs; found 0." in err and err.count("\n") == 1
    assert main(["study", "show", "7"]) == 2
    assert "There is no study 7; `kcnn studies` lists them." in capsys.readouterr().err
    assert main(["race", "--max-repeats", "1"]) == 2
    assert "--max-repeats" in capsys.readouterr().err


def test_stopping_a_study_that_already_ended_says_so(store_path, capsys):
    """Issue 23, case 17: `study stop` on a finished study printed "stopped; 0 queued run(s) cancelled"."""
    with Store(store_path) as store:
        study_id = store.create_study("race", {"keys": []})
        store.add_runs([])
    assert main(["study", "stop", str(study_id)]) == 0
    assert f"study {study_id} stopped; 0 queued run(s) cancelled" in capsys.readouterr().err
    assert main(["study", "stop", str(study_id)]) == 2
    err = capsys.readouterr().err
    assert f"Study {study_id} already ended (stopped); there is nothing to stop." in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_budgeted_study_answers_on_tiny_images_within_its_budget(tmp_path, capsys):
    """Issue 25, end to end: `kcnn study answer` then `kcnn worker --once`: an answer, effects and what more runs
    would resolve, within the budget and one run."""
    import time

    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[fixed]\ninput_size = 16\nchannels = [4, 8]\ndense_units = 8\nepochs = 2\ntest_split = 0.2\n'
                     '[grid]\nkernel_size = [2, 3]\ndilation = [1, [2, 1]]\n')  # fmt: skip
    store = str(tmp_path / "store")
    assert main(["study", "answer", str(sweep), "--budget", "20s", "--store", store]) == 0
    started = capsys.readouterr().out
    assert "study 1 started:" in started and "screening run(s) queued within a 20 s budget" in started
    begin = time.monotonic()
    assert main(["worker", "--once", "--store", store]) == 0
    took = time.monotonic() - begin
    capsys.readouterr()
    assert main(["study", "show", "1", "--store", store]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "(answer, done)" in shown and ("wins" in shown or "leads, not separable" in shown)
    assert "test accuracy" in shown and "validation accuracy, 95% CI" in shown
    assert "Which hyperparameters matter" in shown and "kernel_size" in shown and "dilation" in shown
    assert "closest to separable" in shown or "every hyperparameter tested is separated" in shown
    with Store(store) as opened:
        study = opened.get_study(1)
        runs = opened.study_runs(1)
        longest = max(run.finished - run.started for run in runs if run.state == "done")
    assert study.finished - study.created <= 20 + longest + 5  # its budget, one run, and a worker's polling
    assert took < 60
    done = [run for run in runs if run.state == "done"]
    assert len({(run.config_key, run.seed) for run in done}) == len(done) >= 6


def test_a_budgeted_study_says_when_its_budget_cannot_pay_for_the_smallest_screen(tmp_path, capsys):
    """No training: the plan alone (the cost model's priors) says that a 10 s budget is too small, in the start line
    and in `kcnn study show`, with the budget that would do."""
    sweep = tmp_path / "sweep.toml"
    sweep.write_text("[fixed]\nepochs = 15\n[grid]\ninput_size = [64, 128]\nkernel_size = [2, 3, 4]\n")
    store = str(tmp_path / "store")
    assert main(["study", "answer", str(sweep), "--budget", "10s", "--store", store]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "note: the smallest balanced screen needs about" in said and "more than the 10 s budget" in said
    assert main(["study", "show", "1", "--store", store]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "more than the 10 s budget: its costliest runs may not finish" in shown and "would leave the focus" in shown
    assert main(["study", "stop", "1", "--store", store]) == 0
