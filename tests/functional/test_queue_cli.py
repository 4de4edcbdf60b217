import json

import pytest

from kcnn.cli import main
from kcnn.config import ExperimentConfig
from kcnn.store import Store

TINY = ["--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "2"]


def test_queue_add_expands_grid_and_repeats(store_path, capsys):
    assert main(["queue", "add", "--kernel", "2", "3", "--dilation", "1", "2", "--repeats", "3", *TINY]) == 0
    out = capsys.readouterr().out
    assert "queued 12 run(s)" in out
    with Store(store_path) as store:
        runs = store.list_runs()
    assert len(runs) == 12
    assert len({run.config_key for run in runs}) == 4
    assert sorted({run.seed for run in runs}) == [0, 1, 2]


def test_queue_add_dry_run_queues_nothing(store_path, capsys):
    assert main(["queue", "add", "--kernel", "2", "3", "--dry-run", *TINY]) == 0
    assert "Would queue (dry run): 2 run(s)" in capsys.readouterr().out
    with Store(store_path) as store:
        assert store.list_runs() == []


def test_queue_add_says_when_runs_exist(store_path, capsys):
    main(["queue", "add", "--kernel", "2", *TINY])
    capsys.readouterr()
    assert main(["queue", "add", "--kernel", "2", "3", *TINY]) == 0
    out = capsys.readouterr().out
    assert "queued 1 run(s)" in out
    assert "1 run(s) with the same config and seed (and fold) already in the store, not added again: runs 1" in out


def test_invalid_combinations_are_rejected_and_listed(store_path, capsys):
    argv = ["queue", "add", "--kernel", "2", "9", "--input-size", "16", "--channels", "4,8"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Invalid: 1 of 2 configurations" in captured.out
    assert "Conv layer 2 would produce an empty feature map" in captured.out
    assert captured.err.strip() == (
        "error: 1 of 2 configurations are invalid (listed above); nothing was queued. Fix the values, or pass "
        "--skip-invalid to queue the rest."
    )
    with Store(store_path) as store:
        assert store.list_runs() == []
    assert main([*argv, "--skip-invalid"]) == 0
    with Store(store_path) as store:
        assert len(store.list_runs()) == 1


def test_a_dry_run_with_thousands_of_invalid_points_lists_twenty_and_counts_the_rest(store_path, capsys):
    """Issue 23, case 19: a 10⁵-point dry run printed a 46,740-row table (32 MB, 99 s)."""
    sizes = [str(size) for size in range(8, 58)]
    argv = ["queue", "add", "--kernel", "9", "--input-size", *sizes, "--dense-units", "4", "8", "--dry-run"]
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "Invalid: 40 of 100 configurations" in out and "… and 20 more invalid configuration(s)" in out
    assert out.count("empty feature map") == 20


def test_random_sampling(store_path, capsys):
    assert main(["queue", "add", "--kernel", "2", "3", "4", "--dilation", "1", "2", "--random", "3", *TINY]) == 0
    with Store(store_path) as store:
        assert len(store.list_runs()) == 3


def test_queue_sweep_file(store_path, tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text("repeats = 2\npriority = 4\n[fixed]\ninput_size = 16\nepochs = 1\n[grid]\nkernel_size = [2, 3]\n")
    assert main(["queue", "sweep", str(sweep)]) == 0
    with Store(store_path) as store:
        runs = store.list_runs()
    assert len(runs) == 4 and {run.priority for run in runs} == {4}


def test_cancel_retry_prioritize(store_path, capsys):
    main(["queue", "add", "--seed", "0", "1", "2", *TINY])
    assert main(["queue", "prioritize", "3", "7"]) == 0
    assert main(["queue", "cancel", "1"]) == 0
    assert main(["queue", "cancel", "1"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("error: Run 1 is cancelled; only queued or running runs can be cancelled.")
    )
    assert main(["queue", "retry", "1"]) == 0
    assert main(["queue", "retry", "2"]) == 2
    assert main(["queue", "cancel", "--all-queued"]) == 0
    with Store(store_path) as store:
        assert store.count_by_state()["cancelled"] == 3
        assert store.get_run(3).priority == 7
    assert main(["queue", "cancel", "x1"]) == 2
    assert "Run ids are positive whole numbers" in capsys.readouterr().err
    assert main(["queue", "cancel"]) == 2


def test_runs_and_show(store_path, capsys):
    main(["queue", "add", "--kernel", "2", "3", *TINY])
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "2 runs · 2 queued" in out
    assert main(["runs", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == [2, 1] and rows[0]["config.kernel_size"] == "3"
    assert main(["runs", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("id,state,seed")
    assert main(["runs", "--state", "done"]) == 0
    assert main(["run", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "Run 1" in out and "Shape plan" in out and "queued" in out
    assert main(["run", "show", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"][0]["kind"] == "queued"
    assert main(["run", "show", "99"]) == 2
    assert "There is no run 99 in this store" in capsys.readouterr().err


def test_reap_command(store_path, capsys):
    assert main(["queue", "reap"]) == 2  # no store yet: one line, nothing created
    assert not store_path.exists()
    assert main(["queue", "add", "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["queue", "reap"]) == 0
    assert "reaped 0 run(s)" in capsys.readouterr().out


def test_a_worker_asked_for_gpus_torch_does_not_see_refuses_at_start_up(store_path, capsys, monkeypatch):
    """Issue 23, case 3: `--gpus 0` without a GPU failed every run it claimed as invalid_config."""
    import torch

    assert main(["queue", "add", "--epochs", "1"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["worker", "--gpus", "0", "--once"]) == 2
    err = capsys.readouterr().err
    assert "`--gpus 0`: torch sees no CUDA GPU on this machine" in err and err.count("\n") == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert main(["worker", "--gpus", "0,3", "--once"]) == 2
    assert "torch sees 2 GPU(s), 0 to 1; there is no GPU 3." in capsys.readouterr().err
    with Store(store_path) as store:
        assert store.count_by_state()["queued"] == 1  # nothing claimed, nothing failed


def test_a_configuration_too_large_for_this_machine_is_refused_before_it_is_queued(store_path, capsys, monkeypatch):
    """Issue 23, case 4: a run far beyond the machine's memory swapped for minutes before the OOM killer."""
    from kcnn.queue import memory

    monkeypatch.setattr(memory, "machine_memory", lambda: 2**30)  # a 1 GiB machine: 64 px fits, 512 px does not
    argv = ["queue", "add", "--input-size", "64", "512", "--epochs", "1"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Invalid: 1 of 2 configurations" in captured.out and "input_size 512 with batch_size 32" in captured.out
    assert "1 of 2 configurations are invalid" in captured.err
    assert main([*argv, "--skip-invalid"]) == 0
    with Store(store_path) as store:
        assert [ExperimentConfig.from_json(run.config).input_size for run in store.runs()] == [64]
    capsys.readouterr()
    assert main(["train", "--input-size", "512", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "more than this machine's 1.0 GiB" in err and err.count("\n") == 1


def test_bad_worker_flags(store_path, capsys):
    assert main(["worker", "--gpus", "a"]) == 2
    assert "`--gpus` takes comma-separated GPU indices" in capsys.readouterr().err
    assert main(["worker", "--jobs", "0"]) == 2
    assert "argument --jobs: expects a whole number between 1 and 1024, such as `--jobs 2`; got '0'" in (
        capsys.readouterr().err
    )
    for command in ("worker", "train"):
        assert main([command, "--checkpoint-every", "-1"]) == 2
        assert capsys.readouterr().err.strip() == (
            f"error: kcnn {command}: argument --checkpoint-every: expects a number of seconds, 0 or more, such as "
            f"`--checkpoint-every 10` (or with a unit: 90s, 5m, 2h); got '-1' (see `kcnn {command} --help`)"
        )


HUGE = "99999999999999999999"  # beyond SQLite's 64-bit integers


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["queue", "add", "--priority", HUGE], "argument --priority: expects a whole number between"),
        (["queue", "add", "--max-attempts", HUGE], "argument --max-attempts: expects a whole number between 1 and"),
        (["queue", "add", "--repeats", "0"], "argument --repeats: expects a whole number at least 1"),
        (["queue", "add", "--random", "1.5"], "argument --random: expects a whole number at least 1"),
        (["queue", "prioritize", "1", HUGE], "argument N: expects a whole number between"),
        (["queue", "prioritize", "1", HUGE], "9223372036854775807, such as 10; got"),
        (["run", "show", HUGE], "Run ids are positive whole numbers"),
        (["queue", "cancel", HUGE], "Run ids are positive whole numbers"),
        (["queue", "retry", HUGE], "Run ids are positive whole numbers"),
        (["run", "curves", HUGE], "Run ids are positive whole numbers"),
        (["runs", "--limit", HUGE], "argument --limit: expects a whole number at least 0"),
        (["runs", "--limit", "-1"], "argument --limit: expects a whole number at least 0"),
        (["leaderboard", "--top", "0"], "argument --top: expects a whole number at least 1"),
        (["worker", "--lease", "nan"], "argument --lease: expects a number of seconds greater than 0"),
        (["worker", "--lease", "0"], "argument --lease: expects a number of seconds greater than 0"),
        (["worker", "--poll", "inf"], "argument --poll: expects a number of seconds greater than 0"),
        (["worker", "--stall", "-1"], "argument --stall: expects a number of seconds, 0 or more"),
        (["worker", "--stall", "nan"], "argument --stall: expects a number of seconds, 0 or more"),
        (["worker", "--per-gpu", "0"], "argument --per-gpu: expects a whole number between 1 and 1024"),
        (["plan", "--classes", "0"], "argument --classes: expects a whole number between 1 and 65536"),
    ],
)
def test_every_numeric_flag_is_range_checked_in_one_line(store_path, capsys, argv, expected):
    Store(store_path).close()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert expected in error and "Traceback" not in error and error.count("\n") == 1, error


def test_the_tui_refuses_a_refresh_that_is_not_a_positive_number(capsys):
    from kcnn_tui.app import main as tui_main

    for value in ("-1", "nan", "0"):
        with pytest.raises(SystemExit) as exited:
            tui_main(["--refresh", value])
        assert exited.value.code == 2
        assert "argument --refresh: expects a number of seconds greater than 0" in capsys.readouterr().err


def test_a_million_point_grid_is_refused_with_the_way_out(store_path, capsys):
    values = [str(n) for n in range(1, 101)]
    grid = ["--batch-size", *values, "--dense-units", *values, "--epochs", *values]
    for extra in (["--dry-run"], []):
        assert main(["queue", "add", *grid, *extra]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: This sweep would queue 1,000,000 runs") and "`--random N`" in error
    assert main(["queue", "add", "--repeats", "1000000000"]) == 2
    assert "would queue 1,000,000,000 runs" in capsys.readouterr().err
    assert not store_path.exists()
    assert main(["queue", "add", *grid, "--random", "3", "--dry-run"]) == 0
    assert "Would queue (dry run): 3 run(s)" in capsys.readouterr().out
