"""The command line's one grammar: old spellings are rewritten into it, each with a one-line notice."""

import pytest

from kcnn.api.arguments import duration_seconds
from kcnn.cli.spellings import modernize

CASES = [
    (["show", "7"], ["run", "show", "7"], "`kcnn show` is now `kcnn run show`"),
    (["show", "7", "--json"], ["run", "show", "7", "--format", "json"], "`--json` is now `--format json`"),
    (["curves", "1", "2"], ["run", "curves", "1", "2"], "`kcnn curves` is now `kcnn run curves`"),
    (["export", "--epochs", "-o", "e.csv"], ["runs", "export", "--table", "epochs", "-o", "e.csv"],
     "`kcnn export --epochs` is now `kcnn runs export --table epochs`"),
    (["export-model", "7", "--output", "m.onnx", "--format", "onnx"],
     ["model", "export", "7", "--output", "m.onnx", "--to", "onnx"],
     "`kcnn export-model --format` is now `kcnn model export --to`"),
    (["evaluate", "7", "--json"], ["model", "evaluate", "7", "--format", "json"], "`kcnn evaluate` is now"),
    (["predict", "7", "a.png", "--top", "3"], ["model", "predict", "7", "a.png", "--classes", "3"],
     "`kcnn predict --top` is now `kcnn model predict --classes`"),
    (["workers", "stop", "42"], ["worker", "stop", "42"], "`kcnn workers stop PID` is now `kcnn worker stop PID`"),
    (["workers", "list", "--json"], ["workers", "--format", "json"], "`kcnn workers list` is now `kcnn workers`"),
    (["runs", "--csv"], ["runs", "--format", "csv"], "`--csv` is now `--format csv`"),
    (["optimize", "s.toml", "--timeout", "0.5"], ["optimize", "s.toml", "--time-limit", "0.5h"],
     "`kcnn optimize --timeout HOURS` is now `kcnn optimize --time-limit DURATION"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "notice"), CASES, ids=lambda value: " ".join(value)[:40])
def test_an_old_spelling_becomes_the_new_one_with_a_notice(old, new, notice):
    rewrite = modernize(old)
    assert rewrite.argv == new
    assert any(notice in line for line in rewrite.notices), rewrite.notices
    assert all(line.endswith("the old spelling works until the next release.") for line in rewrite.notices)


@pytest.mark.parametrize(
    "argv",
    [["run", "show", "7", "--format", "json"], ["runs", "export", "--table", "epochs"], ["worker", "--jobs", "2"],
     ["model", "export", "7", "--output", "m.keras", "--to", "keras"], ["queue", "add", "--kernel", "2"],
     ["data", "info", "folder", "--format", "json"], ["leaderboard", "--top", "3"], ["race", "--top", "3"]],
)  # fmt: skip
def test_the_new_grammar_is_left_alone(argv):
    assert modernize(argv).argv == argv
    assert modernize(argv).notices == []


def test_durations_are_seconds_or_carry_their_unit():
    assert [duration_seconds(text) for text in ("90", "90s", "5m", "1.5h", " 2H ")] == [90, 90, 300, 5400, 7200]
    assert all(duration_seconds(text) != duration_seconds(text) for text in ("", "m", "5x", "five"))  # NaN


def test_an_old_spelling_runs_as_the_new_one_and_says_so_once(tmp_path, capsys, monkeypatch):
    from kcnn.cli import main

    monkeypatch.setenv("KCNN_STORE", str(tmp_path / "runs"))
    assert main(["queue", "add", "--kernel", "2", "--input-size", "16", "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["export", "--format", "json"]) == 0
    old = capsys.readouterr()
    assert main(["runs", "export", "--format", "json"]) == 0
    new = capsys.readouterr()
    assert old.out == new.out and new.err == ""
    assert old.err.splitlines() == [
        "notice: `kcnn export` is now `kcnn runs export`; the old spelling works until the next release."
    ]
