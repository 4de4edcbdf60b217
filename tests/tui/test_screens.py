import subprocess
import sys
from pathlib import Path

import pytest
from kcnn_tui.screens.experiment import ExperimentScreen
from kcnn_tui.screens.leaderboard import LeaderboardScreen
from kcnn_tui.screens.queue import QueueScreen
from kcnn_tui.screens.run import RunScreen
from kcnn_tui.screens.sweep import SweepScreen
from kcnn_tui.screens.workers import WorkersScreen
from textual.widgets import Button, DataTable, Input, Static

from kcnn.store import Store

from .conftest import finish_runs

SIZE = (120, 36)


async def settle(pilot, app):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def rendered(widget: Static) -> str:
    from rich.console import Console

    content = getattr(widget, "content", None)
    if content is None:
        content = widget.renderable
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(content)
    return console.export_text()


async def set_input(pilot, screen, selector, value):
    screen.query_one(selector, Input).value = value
    await pilot.pause()


@pytest.mark.slow
async def test_queue_screen_lists_runs_and_summary(app, store_path):
    finish_runs(store_path, {(2, 2): [0.7, 0.72]})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        assert screen.query_one("#runs", DataTable).row_count == 4
        summary = rendered(screen.query_one("#summary", Static))
        assert "1 queued" in summary and "2 done" in summary and "1 failed" in summary
        await pilot.press("f")  # filter: queued only
        await settle(pilot, app)
        assert screen.query_one("#runs", DataTable).row_count == 1


@pytest.mark.slow
def test_first_screen_imports_neither_keras_nor_torch():
    code = (
        "import asyncio, sys, tempfile\n"
        "from kcnn_tui.app import make_app\n"
        "async def main():\n"
        "    app = make_app(tempfile.mkdtemp())\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'torch')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
async def test_queue_a_run_from_the_form_see_it_and_cancel_it(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ExperimentScreen)
        await set_input(pilot, form, "#f-kernel_size", "2")
        await set_input(pilot, form, "#f-dilation", "2 1")
        await set_input(pilot, form, "#f-repeats", "2")
        assert "reads 4 of the 3×3 pixels" in rendered(form.query_one("#shape", Static))
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, QueueScreen)
        with Store(store_path) as store:
            runs = store.list_runs()
        assert [(r.seed, r.config_dict["dilation"]) for r in runs] == [(1, [2, 1]), (0, [2, 1])]
        assert app.screen.query_one("#runs", DataTable).row_count == 2
        await pilot.press("c")
        await settle(pilot, app)
        with Store(store_path) as store:
            assert store.get_run(2).state == "cancelled"


@pytest.mark.slow
async def test_invalid_config_disables_submit_and_shows_the_reason(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        await set_input(pilot, form, "#f-input_size", "4")
        await set_input(pilot, form, "#f-kernel_size", "5")
        await set_input(pilot, form, "#f-dilation", "3")
        assert form.query_one("#submit", Button).disabled
        assert "would produce an empty feature map" in rendered(form.query_one("#reason", Static))
        await set_input(pilot, form, "#f-channels", "16 x")
        assert "`channels` must be whole numbers" in rendered(form.query_one("#reason", Static))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExperimentScreen)
        with Store(store_path) as store:
            assert store.list_runs() == []


@pytest.mark.slow
async def test_build_a_sweep(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        sweep = app.screen
        assert isinstance(sweep, SweepScreen)
        await set_input(pilot, sweep, "#g-kernel_size", "2 3 9")
        await set_input(pilot, sweep, "#g-dilation", "1 2")
        await set_input(pilot, sweep, "#g-input_size", "16")
        await set_input(pilot, sweep, "#g-repeats", "2")
        await settle(pilot, app)
        count = rendered(sweep.query_one("#count", Static))
        assert "8 run(s)" in count and "2 invalid combination(s)" in count
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        with Store(store_path) as store:
            assert len(store.list_runs()) == 8


@pytest.mark.slow
async def test_leaderboard_with_a_prefilled_store(app, store_path):
    finish_runs(store_path, {(2, 2): [0.70, 0.72, 0.74], (3, 1): [0.60, 0.602, 0.73]})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await settle(pilot, app)
        board = app.screen
        assert isinstance(board, LeaderboardScreen)
        table = board.query_one("#board", DataTable)
        assert table.row_count == 2
        first = [str(cell) for cell in table.get_row_at(0)]
        assert "72.0% ± 2.0%" in first and "3" in first
        assert any("outlier" in str(cell) for cell in table.get_row_at(1))
        assert "excluded: 1 queued, 1 failed" in rendered(board.query_one("#summary", Static))
        tests = " ".join(rendered(board.query_one("#effect-tests", Static)).split())
        assert "Which hyperparameters matter" in tests and "kernel_size" in tests and "seed noise" in tests
        await pilot.press("m")
        await settle(pilot, app)
        assert "final validation accuracy" in rendered(board.query_one("#summary", Static))
        assert "Effect of kernel_size" in rendered(board.query_one("#effect-table", Static))
        await pilot.press("b")
        await settle(pilot, app)
        effect = rendered(board.query_one("#effect-table", Static))
        assert "Effect of dilation" in effect and "Effect of kernel_size" not in effect


@pytest.mark.slow
async def test_run_screen_and_help(app, store_path):
    finish_runs(store_path, {(2, 2): [0.7]})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("o")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")


@pytest.mark.slow
async def test_workers_screen_starts_and_stops_a_worker(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await settle(pilot, app)
        assert isinstance(app.screen, WorkersScreen)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")  # default: 2 jobs
        for _ in range(150):
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
            if app.screen.query_one("#workers", DataTable).row_count:
                break
        assert app.screen.query_one("#workers", DataTable).row_count == 1
        await pilot.press("x")
        assert app.started_workers[0].wait(timeout=60) == 0


@pytest.mark.slow
async def test_quit_asks_about_started_workers(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        process = app.start_worker(["--jobs", "1"])
        from kcnn.api import live_workers

        for _ in range(300):  # until it has registered, which it does once its signal handlers are set:
            if live_workers(store_path):  # a SIGTERM before that ends it with -15, not a polite stop
                break
            await pilot.pause(0.05)
        assert live_workers(store_path)
        await pilot.press("q")
        await pilot.pause()
        assert type(app.screen).__name__ == "QuitScreen"
        await pilot.press("s")
        await pilot.pause()
    assert process.wait(timeout=60) == 0


def test_entry_point_store_error(tmp_path, capsys):
    from kcnn_tui.app import main

    (tmp_path / "file").write_text("x")
    assert main(["--store", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


@pytest.mark.slow
async def test_end_to_end_queue_two_runs_start_a_worker_and_watch_them_finish(app, store_path):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        for field, value in (
            ("input_size", "16"),
            ("channels", "4"),
            ("dense_units", "8"),
            ("epochs", "2"),
            ("kernel_size", "2"),
            ("dilation", "2"),
            ("repeats", "2"),
        ):
            await set_input(pilot, form, f"#f-{field}", value)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        await pilot.press("w")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("escape")
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        for _ in range(600):
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            summary = rendered(queue.query_one("#summary", Static))
            if "2 done" in summary:
                break
        assert "2 done" in summary
        table = queue.query_one("#runs", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
        assert all(row[1] == "done" and row[9].endswith("%") for row in rows)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("s")  # stop the worker this TUI started
        await pilot.pause()
    assert app.started_workers[0].wait(timeout=60) == 0


@pytest.mark.slow
async def test_the_sweep_file_is_read_once_per_path_not_per_keystroke(app, store_path, tmp_path, monkeypatch):
    import kcnn.api

    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text("repeats = 2\n[grid]\nkernel_size = [2, 3]\ninput_size = [16]\n")
    reads = []
    real = kcnn.api.load_sweep
    monkeypatch.setattr(kcnn.api, "load_sweep", lambda path: reads.append(path) or real(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        sweep = app.screen
        await set_input(pilot, sweep, "#g-TOML_file", str(sweep_file))
        for value in ("3", "4", "5"):
            await set_input(pilot, sweep, "#g-repeats", value)
        await settle(pilot, app)
        assert "4 run(s)" in rendered(sweep.query_one("#count", Static))
        assert reads == [sweep_file]
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        with Store(store_path) as store:
            assert len(store.runs()) == 4


@pytest.mark.slow
async def test_a_form_whose_runs_cannot_be_queued_stays_open_and_says_why(app, store_path, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        await set_input(pilot, form, "#f-dataset", str(tmp_path / "no-such-folder"))
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form and not form.query_one("#submit", Button).disabled
        [notice] = [n for n in app._notifications if n.severity == "error"]
        assert "no such folder" in notice.message
        with Store(store_path) as store:
            assert store.runs() == []


@pytest.mark.slow
async def test_a_damaged_config_row_is_shown_as_damaged_on_every_screen(app, store_path):
    import sqlite3

    finish_runs(store_path, {(2, 2): [0.70, 0.72], (3, 1): [0.60, 0.61]})
    connection = sqlite3.connect(store_path / "kcnn.sqlite")
    connection.execute("UPDATE runs SET config = '[1, 2]' WHERE id = 1")
    connection.execute("UPDATE runs SET config = '{bad' WHERE id = 6")  # the queued run
    connection.commit()
    connection.close()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 6
        states = [str(table.get_row_at(row)[1]) for row in range(table.row_count)]
        assert states.count("done (damaged config)") == 1 and states.count("queued (damaged config)") == 1
        await pilot.press("l")
        await settle(pilot, app)
        assert "1 done with a damaged config (run 1" in rendered(app.screen.query_one("#summary", Static))


@pytest.mark.slow
async def test_leaderboard_plots_runs_and_run_screen_evaluates_on_demand(app, store_path):
    finish_runs(store_path, {(2, 2): [0.70, 0.72], (3, 1): [0.60, 0.61]})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await settle(pilot, app)
        await pilot.press("g")
        await settle(pilot, app)
        assert "● run · ━ mean · ┃ 95% CI" in rendered(app.screen.query_one("#plot", Static))
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("o")
        await settle(pilot, app)
        assert isinstance(app.screen, RunScreen)
        await pilot.press("e")
        await settle(pilot, app)
        text = rendered(app.screen.query_one("#evaluation", Static))
        assert "cannot evaluate:" in text and "no final model" in text  # these runs were never trained


@pytest.mark.slow
async def test_run_screen_classifies_images_and_exports_the_model(app, store_path, tmp_path):
    import numpy as np
    from PIL import Image

    from kcnn import api
    from kcnn.config import ExperimentConfig

    with api.open_store(store_path) as store:
        config = ExperimentConfig(input_size=16, channels=4, dense_units=8, epochs=1, test_split=0.2)
        result = api.train(config, store=store, progress=False, device="cpu")
    images = tmp_path / "images"
    images.mkdir()
    for index in range(3):
        Image.fromarray(np.full((20, 20, 3), 40 * index, dtype=np.uint8)).save(images / f"{index}.png")
    (images / "broken.png").write_bytes(b"nope")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("o")
        await settle(pilot, app)
        await pilot.press("p")
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", str(images))
        await pilot.press("enter")
        await settle(pilot, app)
        table = rendered(app.screen.query_one("#evaluation", Static))
        assert "Predictions" in table and "0.png" in table and "unreadable" in table
        await pilot.press("t")
        await settle(pilot, app)
        text = " ".join(rendered(app.screen.query_one("#evaluation", Static)).split())
        assert f"test split): accuracy {result.best_test_accuracy:.2%}" in text  # the best epoch's model, as recorded
        target = tmp_path / "exported.keras"
        await pilot.press("x")
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", str(target))
        await pilot.press("enter")
        await settle(pilot, app)
    assert target.stat().st_size > 0


@pytest.mark.slow
async def test_studies_screen_races_the_leaders_and_stops_the_race(app, store_path):
    from kcnn_tui.screens.studies import StudiesScreen

    finish_runs(store_path, {(2, 2): [0.70, 0.72], (3, 1): [0.60, 0.61]})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, StudiesScreen)
        assert "no studies yet" in rendered(app.screen.query_one("#detail", Static))
        await pilot.press("r")
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", "2")
        await pilot.press("enter")
        await settle(pilot, app)
        await settle(pilot, app)
        assert app.screen.query_one("#studies", DataTable).row_count == 1
        detail = " ".join(rendered(app.screen.query_one("#detail", Static)).split())
        assert "Study 1 (race, running)" in detail and "queued" in detail
        await pilot.press("x")
        await settle(pilot, app)
        await settle(pilot, app)
    with Store(store_path) as store:
        study = store.get_study(1)
        runs = store.study_runs(1)
    assert study.state == "stopped" and runs and all(run.state == "cancelled" for run in runs)


@pytest.mark.slow
async def test_studies_screen_starts_an_optuna_study(app, store_path, tmp_path):
    from kcnn_tui.screens.studies import StudiesScreen

    space = tmp_path / "space.toml"
    space.write_text("kernel_size = [2, 3]\n[fixed]\ninput_size = 16\nchannels = [4]\nepochs = 1\n")
    finish_runs(store_path, {(2, 2): [0.70]})  # the store exists
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, StudiesScreen)
        await pilot.press("o")
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", f"{space} 2")
        await pilot.press("enter")
        await settle(pilot, app)
        await settle(pilot, app)
        detail = " ".join(rendered(app.screen.query_one("#detail", Static)).split())
        assert "Study 1 (optimize, running)" in detail
    with Store(store_path) as store:
        study = store.get_study(1)
    assert study.kind == "optimize" and study.settings["trials"] == 2


@pytest.mark.slow
async def test_a_cross_validated_sweep_queues_each_fold_once(app, store_path):
    """2 kernels × 2 seeds × 3 folds is 12 runs on an empty store, none "already in the store" (issue 22)."""
    notes = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        sweep = app.screen
        sweep.notify = lambda text, **_: notes.append(text)
        await set_input(pilot, sweep, "#g-kernel_size", "2 3")
        await set_input(pilot, sweep, "#g-input_size", "16")
        await set_input(pilot, sweep, "#g-folds", "3")
        await set_input(pilot, sweep, "#g-repeats", "2")
        await settle(pilot, app)
        assert "12 run(s)" in rendered(sweep.query_one("#count", Static))
        await pilot.press("ctrl+s")
        await settle(pilot, app)
    assert notes == ["queued 12 run(s)"]
    with Store(store_path) as store:
        runs = store.runs()
    assert sorted((run.config_dict["kernel_size"], run.seed, run.fold) for run in runs) == [
        ([kernel, kernel], seed, fold) for kernel in (2, 3) for seed in (0, 1) for fold in range(3)
    ]


@pytest.mark.slow
async def test_the_sweep_form_counts_off_the_ui_thread(app, store_path, monkeypatch):
    """A slow count (a big sweep, a folder scan) never runs on the thread that draws the screen."""
    import threading

    import kcnn.api

    threads = []
    real = kcnn.api.queue_sweep

    def recording(store, spec, **options):
        threads.append(threading.current_thread())
        return real(store, spec, **options)

    monkeypatch.setattr(kcnn.api, "queue_sweep", recording)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        await set_input(pilot, app.screen, "#g-kernel_size", "2 3")
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
    assert threads and threading.main_thread() not in threads


@pytest.mark.parametrize(
    ("key", "answer", "message"),
    [
        ("r", "0", "The number of configurations to race (`--top`) must be from 2 to 50; got 0."),
        ("r", "99999", "must be from 2 to 50; got 99999."),
        ("o", "{space} 0", "`--trials` must be between 1 and 100000; got 0."),
        ("o", "{bad} 3", "Space file"),
    ],
)
async def test_studies_screen_says_why_a_study_did_not_start(app, store_path, tmp_path, key, answer, message):
    """Issue 23, case 16: `o` with a bad space showed nothing (and left a stuck study), 0 trials did nothing,
    `r` with 0 said "found 0" and 99999 raced every configuration."""
    from kcnn_tui.screens.studies import StudiesScreen

    space, bad = tmp_path / "space.toml", tmp_path / "bad.toml"
    space.write_text("kernel_size = [2, 3]\n[fixed]\ninput_size = 16\nchannels = [4]\nepochs = 1\n")
    bad.write_text("input_size = {low = 16, high = 30, step = -2}\n")
    finish_runs(store_path, {(2, 2): [0.70, 0.72], (3, 1): [0.60, 0.61], (2, 1): [0.5, 0.55]})
    notes = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, StudiesScreen)
        app.screen.notify = lambda text, **_: notes.append(text)
        await pilot.press(key)
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", answer.format(space=space, bad=bad))
        await pilot.press("enter")
        await settle(pilot, app)
        await settle(pilot, app)
    assert any(message in note for note in notes), notes
    with Store(store_path) as store:
        assert store.studies() == []


async def test_the_tui_opens_a_read_only_store_for_reading(store_path, monkeypatch):
    """Issue 23, case 23: `kcnn-tui` refused a read-only store that the CLI reads."""
    from kcnn_tui.app import make_app

    from kcnn.store import connection

    finish_runs(store_path, {(2, 2): [0.70]})
    monkeypatch.setattr(connection, "unwritable_reason", lambda folder: "the file system is mounted read-only")
    app = make_app(store_path, refresh_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.screen.query_one("#runs", DataTable).row_count >= 1


async def test_store_screen_shows_bytes_by_kind_and_prunes_after_a_dry_run_and_a_yes(app, store_path):
    """Issue 24: the Store screen is `kcnn store info` and `kcnn store prune`; nothing goes without a yes."""
    from kcnn_tui.screens.store import StoreScreen

    finish_runs(store_path, {(2, 2): [0.7, 0.72], (3, 1): [0.6, 0.62]})
    with Store(store_path) as store:
        done = [run for run in store.runs() if run.state == "done"]
        for run in done:
            store.run_folder(run.id).mkdir(parents=True, exist_ok=True)
            (store.run_folder(run.id) / "model-a1.keras").write_bytes(b"m" * 300_000)
            (store.run_folder(run.id) / "best-a1.keras").write_bytes(b"b" * 200_000)
    kept = {run.id for run in done if run.experiment_config.kernel_sizes[0] == 2}

    def files():
        return sorted(path.relative_to(store_path) for path in (store_path / "artifacts").rglob("*.keras"))

    before = files()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, StoreScreen)
        shown = " ".join(rendered(screen.query_one("#store-info", Static)).replace("│", " ").split())
        assert "final models 1.2 MB" in shown and "best-epoch models 0.8 MB" in shown and "data cache" in shown
        for answer, removes in (("n", False), ("y", True)):
            await pilot.press("p")
            await pilot.pause()
            screen.app.screen.query_one(Input).value = "1"
            await pilot.press("enter")
            await settle(pilot, app)
            question = " ".join(rendered(app.screen.query_one("Label")).split())
            assert "would free 1.4 MB: the model files of 2 run(s) and the best-epoch models of 2 top" in question
            await pilot.press(answer)
            await settle(pilot, app)
            assert (files() != before) is removes
        assert files() == sorted(Path("artifacts") / str(run_id) / "model-a1.keras" for run_id in kept)
        shown = " ".join(rendered(screen.query_one("#store-info", Static)).replace("│", " ").split())
        assert "final models 0.6 MB" in shown and "best-epoch models" not in shown


async def test_studies_screen_starts_a_budgeted_study(app, store_path, tmp_path):
    """Issue 25: `a` on the Studies screen is `kcnn study answer SWEEP.toml --budget 5m --workers 2`."""
    from kcnn_tui.screens.studies import StudiesScreen

    sweep = tmp_path / "sweep.toml"
    sweep.write_text("[fixed]\ninput_size = 16\nchannels = [4]\nepochs = 1\n[grid]\nkernel_size = [2, 3]\n")
    finish_runs(store_path, {(2, 2): [0.70]})  # the store exists
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, StudiesScreen)
        await pilot.press("a")
        await pilot.pause()
        await set_input(pilot, app.screen, "#answer", f"{sweep} 5m 2")
        await pilot.press("enter")
        await settle(pilot, app)
        await settle(pilot, app)
        detail = " ".join(rendered(app.screen.query_one("#detail", Static)).split())
        assert "Study 1 (answer, running)" in detail and "budget 300 s on 2 worker slot(s)" in detail
    with Store(store_path) as store:
        study = store.get_study(1)
        runs = store.study_runs(1)
    assert study.kind == "answer" and study.settings["budget_seconds"] == 300 and len(runs) == 4  # 2 points × 2 seeds
