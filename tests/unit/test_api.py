"""The Python API facade (the README's example, which trains, is run by tests/functional/test_readme.py)."""

import sys

import pytest

import kcnn
from kcnn.contract import EpochRecord
from kcnn.errors import ConfigError, KcnnError, StoreError


def _finish(store, config, best):
    [added] = store.add_runs([config])
    claim = store.claim("w", run_id=added.run_id)
    store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=best, seconds=1.0, images_per_second=100.0))
    store.finish(claim)
    return added.run_id


@pytest.fixture
def store(tmp_path):
    from kcnn.store import Store

    with Store(tmp_path / "store") as engine:  # finished runs, written as a worker would
        for kernel, values in ((2, [0.80, 0.81, 0.82]), (3, [0.60, 0.62, 0.61])):
            for seed, best in enumerate(values):
                _finish(engine, kcnn.ExperimentConfig(kernel_size=kernel, dilation=(2, 1), seed=seed), best)
    with kcnn.open_store(tmp_path / "store") as opened:
        yield opened


def test_queue_adds_repeats_once_and_resolves_auto_colour(store):
    config = kcnn.ExperimentConfig(kernel_size=4, seed=5)
    results = store.queue(config, repeats=3)
    assert [r.created for r in results] == [True] * 3
    assert [r.created for r in store.queue([config], repeats=2)] == [False, False]
    queued = store.runs(state="queued")
    assert [run.seed for run in queued] == [5, 6, 7]
    assert {run.config_dict["color_mode"] for run in queued} == {"rgb"}
    with pytest.raises(ConfigError, match=r"^`repeats` must be a whole number from 1 to 10000; got 0\.$"):
        store.queue(config, repeats=0)


def test_queue_a_cross_validated_config_queues_every_fold_of_every_seed(store):
    config = kcnn.ExperimentConfig(kernel_size=4, folds=3, test_split=0.2)
    assert [r.created for r in store.queue(config, repeats=2)] == [True] * 6
    queued = store.runs(state="queued")
    assert [(run.seed, run.fold) for run in queued] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [r.created for r in store.queue(config, repeats=2)] == [False] * 6


def test_leaderboard_compare_and_effects(store):
    board = kcnn.leaderboard(store, filters=["dilation=2,1"])
    assert [s.n for s in board] == [3, 3] and board[0].mean == pytest.approx(0.81)
    assert kcnn.leaderboard(store, filters={"kernel_size": 3})[0].mean == pytest.approx(0.61)
    assert kcnn.leaderboard(store, filters=["dilation=2"]) == []
    top_two = kcnn.compare(store)
    assert top_two.verdict.startswith(f"{board[0].config_key[:8]} is better than {board[1].config_key[:8]} by 20.00%")
    assert kcnn.compare(store, board[1].config_key[:6], board[0].config_key[:6]).verdict == top_two.verdict
    cells = kcnn.api.effects(store, ["kernel"])
    assert [(cell.key, cell.n) for cell in cells] == [((2,), 3), ((3,), 3)]
    with pytest.raises(ConfigError, match="`metric` must be best or final"):
        kcnn.leaderboard(store, metric="median")
    with pytest.raises(KcnnError, match="or none for the top two"):
        kcnn.compare(store, board[0].config_key)


def test_runs_know_their_model_and_load_model_says_when_there_is_none(store):
    [run, *_] = store.runs()
    assert run.folder == store.path / "artifacts" / str(run.id)
    assert run.experiment_config == kcnn.ExperimentConfig(kernel_size=2, dilation=(2, 1), seed=0)
    with pytest.raises(StoreError, match=rf"^Run {run.id} has no final model \(done\)"):
        kcnn.load_model(run)
    with pytest.raises(StoreError, match="needs the store when given a run id"):
        kcnn.load_model(run.id)


def test_runs_frame_has_a_row_per_run_and_config_columns(store):
    pytest.importorskip("pandas")
    frame = store.runs_frame(state="done")
    assert len(frame) == 6 and {"id", "config_key", "best_val_accuracy", "config.kernel_size"} <= set(frame.columns)
    assert frame.groupby("config.kernel_size")["best_val_accuracy"].mean().round(2).to_dict() == {
        "2,2": 0.81,
        "3,3": 0.61,
    }


def test_runs_frame_names_the_extra_when_pandas_is_missing(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now raises ImportError
    with pytest.raises(KcnnError, match=r"^`runs_frame` needs pandas: pip install 'kcnn\[pandas\]'\.$"):
        store.runs_frame()


def test_open_store_can_refuse_to_create(tmp_path):
    with pytest.raises(StoreError, match=r"^There is no kcnn store at"):
        kcnn.open_store(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("lease_seconds", float("nan")), ("poll_seconds", 0.0), ("stall_seconds", -1.0)]
)
def test_run_workers_refuses_impossible_seconds_before_starting_anything(store, option, value):
    with pytest.raises(ConfigError, match=rf"^`{option}` must be a finite number of seconds"):
        kcnn.api.run_workers(store, once=True, **{option: value})


def test_the_facades_signatures_name_real_types_never_any():
    import inspect
    import re

    import kcnn.api

    functions = [getattr(kcnn.api, name) for name in kcnn.api.__all__ if inspect.isfunction(getattr(kcnn.api, name))]
    methods = [member for _, member in inspect.getmembers(kcnn.api.Workspace, inspect.isfunction)]
    assert len(functions) > 25 and len(methods) > 30
    loose = [
        f"{function.__qualname__}: {name} is {annotation}"
        for function in functions + methods
        for name, annotation in function.__annotations__.items()
        if re.search(r"\bAny\b", str(annotation))
    ]
    assert loose == []


def test_a_workspace_never_hands_out_the_worker_protocol(tmp_path):
    with kcnn.open_store(tmp_path / "store") as workspace:
        for name in ("claim", "heartbeat", "record_epoch", "finish", "fail", "advance_study", "add_runs", "_write"):
            assert not hasattr(workspace, name), name


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda store: kcnn.train("abc", store=store), "`train` takes an ExperimentConfig, such as"),
        (lambda store: kcnn.train(None, store=store), "`train` takes an ExperimentConfig"),
        (lambda store: store.queue("abc"), "`queue` takes an ExperimentConfig"),
        (lambda store: store.queue([kcnn.ExperimentConfig(), 3]), "`queue` takes an ExperimentConfig"),
        (lambda store: store.queue(kcnn.ExperimentConfig(), repeats="3"), "`repeats` must be a whole number"),
        (lambda store: store.queue(kcnn.ExperimentConfig(), repeats=0), "`repeats` must be a whole number from 1"),
        (lambda store: store.runs(state="bogus"), "Unknown run state 'bogus'; use one of queued, running"),
        (lambda store: store.list_runs(["done", "nope"]), "Unknown run state 'nope'"),
        (lambda store: store.cancel("5"), "`cancel` takes a run id or a list of them"),
        (lambda store: store.cancel([True]), "`run id` must be a whole number at least 1; got True"),
        (lambda store: store.get_run("1"), "`run id` must be a whole number at least 1; got '1'"),
        (lambda store: store.prioritize(1, 2.5), "`priority` must be a whole number"),
        (lambda store: kcnn.load_model(None), "`load_model` takes a Run (from store.runs()) or a run id"),
        (lambda store: store.evaluate("x"), "`evaluate` takes a Run"),
    ],
)
def test_api_arguments_of_the_wrong_kind_are_one_line_errors(store, call, message):
    """Issue 23, case 23: these raised AttributeError or TypeError from inside, or returned [] silently."""
    with pytest.raises(KcnnError) as raised:
        call(store)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_cancel_takes_one_run_id_as_an_int(store):
    [added] = store.queue(kcnn.ExperimentConfig(epochs=1))
    assert store.cancel(added.run_id) == [added.run_id]
