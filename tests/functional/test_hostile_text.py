"""Text from users (folder names, paths, error messages) never drives the terminal or Rich markup."""

import json

import pytest
from PIL import Image

from kcnn.cli import main
from kcnn.config import ExperimentConfig
from kcnn.reports.text import printable, safe
from kcnn.store import FailureKind, Store

ESC = "\x1b[41m"


def test_control_characters_become_visible_and_markup_is_escaped():
    assert printable(f"{ESC}red\x07\n") == "\\x1b[41mred\\x07\\x0a"
    assert printable("a\nb", lines=True) == "a\nb"
    assert safe("st[/]x") == "st\\[/]x"


def test_data_info_shows_a_class_named_with_an_escape_sequence_harmlessly(tmp_path, capsys):
    for name in (f"{ESC}cats", "dogs"):
        (tmp_path / name).mkdir()
        for index in range(2):
            Image.new("RGB", (8, 8)).save(tmp_path / name / f"{index}.png")
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[41mcats" in out


def test_show_prints_a_hostile_error_message_and_path_harmlessly(tmp_path, capsys):
    store_path = tmp_path / "runs"
    with Store(store_path) as store:
        store.add_runs([ExperimentConfig(epochs=1)])
        store.fail(store.claim("w"), FailureKind.CRASHED, f"boom {ESC}[/] [bold]x\nsecond line")
    assert main(["run", "show", "1", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[bold]x" in out and "second line" in out


def test_a_store_path_with_markup_works_for_every_writer(tmp_path, capsys, monkeypatch):
    store_path = tmp_path / "st[/]x"
    argv = ["--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "1", "--store", str(store_path)]
    assert main(["queue", "add", *argv]) == 0
    assert "queued 1 run(s) in" in capsys.readouterr().out
    assert main(["train", *argv, "--seed", "1", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == 2
    from kcnn.queue.supervisor import Supervisor

    # The supervisor's own lines carry the store path; children are not needed to show they print safely.
    monkeypatch.setattr(Supervisor, "run", lambda self: self.log(f"watching {self.settings.store_path}") or 0)
    assert main(["worker", "--once", "--store", str(store_path)]) == 0
    assert f"worker: watching {store_path}" in capsys.readouterr().err.replace("\n", "")
    with Store(store_path) as store:
        assert store.count_by_state() == {**dict.fromkeys(store.count_by_state(), 0), "queued": 1, "done": 1}


@pytest.mark.parametrize("name", ["st[/]x", "[bold red]z"])
def test_store_info_shows_a_store_path_with_markup_as_it_is(tmp_path, capsys, monkeypatch, name):
    """Issue 23, case 8: `st[/]x` raised Rich's MarkupError; `[bold red]z` showed as `z`."""
    monkeypatch.setenv("COLUMNS", "300")
    store_path = tmp_path / name
    assert main(["queue", "add", "--epochs", "1", "--store", str(store_path)]) == 0
    capsys.readouterr()
    assert main(["store", "info", "--store", str(store_path)]) == 0
    assert str(store_path) in capsys.readouterr().out
