"""`kcnn optimize` end to end with a real worker: trials trained, a weak one pruned between epochs."""

import json

import optuna

from kcnn.cli import main
from kcnn.queue.optimize import optuna_study
from kcnn.store import Store

SPACE = """
kernel_size = [2, 3]
learning_rate = { low = 1e-4, high = 1e-2, log = true }

[fixed]
input_size = 16
channels = [4]
dense_units = 8
epochs = 4
"""


def test_a_weak_trial_is_pruned_between_epochs_and_shows_as_pruned(store_path, tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    assert main(["optimize", str(space), "--trials", "1", "--parallel", "1", "--pruner", "median"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("study 1 started: 1 run(s)") and "optuna-dashboard sqlite:///" in out
    with Store(store_path) as store:  # two earlier trials that reached 100% at every epoch: the median to beat
        ostudy = optuna_study(store.path, store.get_study(1))
        for _ in range(2):
            ostudy.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={e: 1.0 for e in range(1, 5)}))
    assert main(["worker", "--once", "--jobs", "1"]) == 0
    capsys.readouterr()
    with Store(store_path) as store:
        [run] = store.study_runs(1)
        study = store.get_study(1)
        events = [event["kind"] for event in store.events(run.id)]
        assert store.count_by_state()["pruned"] == 1 and store.count_by_state()["failed"] == 0
    assert run.state == "pruned" and 1 <= run.epochs_done < 4 and "pruned" in events  # stopped between epochs
    assert study.state == "done" and "0 complete, 1 pruned, 0 failed" in study.verdict
    assert main(["runs", "--state", "pruned", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run.id]
    assert main(["studies"]) == 0
    assert "optimize" in capsys.readouterr().out


def test_optimize_mistakes_are_one_line(store_path, tmp_path, capsys):
    assert main(["optimize", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert "Cannot read the space file" in err and err.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("kernal = [2, 3]\n")
    assert main(["optimize", str(bad)]) == 2
    assert "Unknown hyperparameter 'kernal'" in capsys.readouterr().err
    ranged = tmp_path / "ranged.toml"
    ranged.write_text("learning_rate = { low = 0.001, high = 0.01 }\n")
    assert main(["optimize", str(ranged), "--sampler", "grid"]) == 2
    assert "`--sampler grid` needs a list of choices" in capsys.readouterr().err
