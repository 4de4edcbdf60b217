"""The Workers screen starts a Ray worker (a Ray head on this machine) like a local one."""

import socket

import pytest
from kcnn_tui.screens.workers import WorkersScreen, ray_worker_arguments
from textual.widgets import DataTable

from kcnn.config import ExperimentConfig
from kcnn.store import Store

SIZE = (160, 48)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", ["--ray", "auto"]),
        ("10.0.0.1:6379 --per-gpu 4", ["--ray", "10.0.0.1:6379", "--per-gpu", "4"]),
        ("local --jobs 2 --cpus-per-run 1", ["--ray", "local", "--jobs", "2", "--cpus-per-run", "1"]),
    ],
)
def test_the_ray_prompt_becomes_worker_arguments(text, expected):
    assert ray_worker_arguments(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("--jobs 2", "Start with the cluster"),
        ("auto --gpus 0", "only --per-gpu"),
        ("auto --jobs", "each with a number"),
        ("auto 'x", "Cannot read"),
    ],
)
def test_a_bad_ray_prompt_says_what_is_wrong_in_one_line(text, says):
    message = ray_worker_arguments(text)
    assert isinstance(message, str) and says in message and "\n" not in message


@pytest.mark.ray
@pytest.mark.slow
async def test_the_workers_screen_starts_a_ray_worker_that_trains(app, store_path):
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        pytest.skip("Ray tests start servers: run them inside a loopback-only network namespace (nox -s tests does)")
    with Store(store_path) as store:
        store.add_runs([ExperimentConfig(input_size=16, channels=(4,), dense_units=8, epochs=1)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WorkersScreen)
        await pilot.press("r")
        await pilot.pause()
        for _ in range(4):
            await pilot.press("backspace")
        await pilot.press(*"local --jobs 1")
        await pilot.press("enter")
        table = app.screen.query_one("#workers", DataTable)
        slots = ""
        for _ in range(900):
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            with Store(store_path) as store:
                done = store.count_by_state()["done"]
            if table.row_count:
                slots = str(table.get_row_at(0)[1])
            if done == 1 and "node" in slots:
                break
        assert done == 1
        assert slots.startswith("ray 1: node 127.0.0.1 CPU")
        await pilot.press("x")
        assert app.started_workers[0].wait(timeout=60) == 0
