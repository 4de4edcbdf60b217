import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_sub_package_is_listed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set()
    for name, folder in (("kcnn", ROOT / "src" / "kcnn"), ("kcnn_tui", ROOT / "tui")):
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((name, *parts)))
    assert found == listed


def test_console_scripts():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts == {"kcnn": "kcnn.cli:main", "kcnn-tui": "kcnn_tui.app:main"}
