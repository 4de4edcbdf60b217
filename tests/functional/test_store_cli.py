"""`kcnn store info|upgrade` end to end, and every other command refusing an older store in one line."""

import json

from old_stores import OLD_CONFIG, version_2_store

from kcnn.cli import main
from kcnn.store.schema import SCHEMA_VERSION


def test_an_old_store_is_refused_until_upgraded(tmp_path, capsys):
    folder = version_2_store(tmp_path / "old", [OLD_CONFIG])
    for command in (["runs"], ["leaderboard"], ["queue", "add", "--epochs", "1"], ["worker", "--once"]):
        assert main([*command, "--store", str(folder)]) == 2, command
        error = capsys.readouterr().err
        assert error.startswith(f"error: The store at '{folder}' has schema version 2; this kcnn needs"), error
        assert "`kcnn store upgrade --store" in error and "\n" not in error.rstrip("\n"), error

    assert main(["store", "info", "--store", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["schema_version"], info["needs_upgrade"], info["runs_by_state"]) == (2, True, {"done": 1})

    assert main(["store", "upgrade", "--store", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"upgraded schema 2 → {SCHEMA_VERSION}; 1 run(s) re-keyed; backup at " in out
    assert (folder / "kcnn.sqlite.v2.bak").is_file()
    assert main(["runs", "--store", str(folder), "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["config.color_mode"] == "rgb" and run["key_version"] == 2 and run["precision"] == "float32"
    assert main(["store", "upgrade", "--store", str(folder)]) == 0
    assert "nothing to do" in capsys.readouterr().out
