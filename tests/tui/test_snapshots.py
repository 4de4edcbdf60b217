"""Snapshots of each screen at 120×36 and 80×24 (update with `pytest --snapshot-update`)."""

import pytest
from kcnn_tui.app import make_app

from .conftest import finish_runs

SIZES = [(120, 36), (80, 24)]


@pytest.fixture
def filled_store(store_path):
    finish_runs(store_path, {(2, 2): [0.70, 0.72, 0.74], (3, 1): [0.60, 0.602, 0.73], (2, 1): [0.65]})
    return store_path


def _before(*keys):
    async def run_before(pilot):
        pilot.app.sub_title = "./kcnn-runs"
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.3)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "keys",
    [(), ("n",), ("s",), ("l",), ("question_mark",), ("w",)],
    ids=["queue", "experiment", "sweep", "leaderboard", "help", "workers"],
)
def test_screen_snapshot(snap_compare, filled_store, keys, size):
    app = make_app(filled_store, refresh_seconds=3600)
    assert snap_compare(app, terminal_size=size, run_before=_before(*keys))
