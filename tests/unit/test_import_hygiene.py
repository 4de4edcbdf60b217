import json
import subprocess
import sys
from pathlib import Path

import pytest

import kcnn

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("keras", "torch", "textual", "ray", "optuna", "scipy", "matplotlib")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_cli_help_imports_neither_keras_nor_torch():
    modules = _modules_after(
        "import contextlib, io\nfrom kcnn.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0"
    )
    assert not {name for name in modules if name.split(".")[0] in HEAVY}


def test_tui_entry_point_imports_neither_keras_nor_torch():
    modules = _modules_after("import kcnn_tui.app")
    assert not {name for name in modules if name.split(".")[0] in ("keras", "torch")}


@pytest.mark.slow
def test_no_module_of_kcnn_imports_textual():
    package = Path(kcnn.__file__).parent
    names = sorted(
        "kcnn." + ".".join(path.relative_to(package).with_suffix("").parts)
        for path in package.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    modules = _modules_after("import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names))
    assert set(names) <= modules
    assert "textual" not in {name.split(".")[0] for name in modules}


def test_kcnn_runs_and_reports_import_neither_keras_nor_torch(tmp_path):
    store = str(tmp_path / "store")
    from kcnn.store import Store

    Store(store).close()
    modules = _modules_after(
        "import contextlib, io\nfrom kcnn.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    assert main(['runs', '--store', {store!r}]) == 0\n"
        f"    main(['leaderboard', '--store', {store!r}])\n"
        f"    assert main(['export', '--store', {store!r}]) == 0\n"
    )
    assert not {name for name in modules if name.split(".")[0] in HEAVY}


def test_importing_kcnn_and_its_api_is_cheap():
    modules = _modules_after("import kcnn\nkcnn.open_store\nkcnn.leaderboard")
    assert not {name for name in modules if name.split(".")[0] in HEAVY}


def _kcnn_imports(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kcnn":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "kcnn")
    return found


def test_the_faces_reach_the_engine_only_through_the_facade():
    # The CLI and the TUI use `kcnn.api` (and its views) for everything the engine does; besides it they may
    # read the config's field list and parser and the errors. The TUI never imports the CLI.
    allowed = ("kcnn", "kcnn.api", "kcnn.api.arguments", "kcnn.api.views", "kcnn.config", "kcnn.errors")
    cli = list((Path(kcnn.__file__).parent / "cli").glob("*.py"))
    tui = list((ROOT / "tui").rglob("*.py"))
    assert len(cli) > 10 and len(tui) > 10
    for path in cli:
        for module in _kcnn_imports(path):
            assert module in allowed or module == "kcnn.cli" or module.startswith("kcnn.cli."), (path.name, module)
    for path in tui:
        for module in _kcnn_imports(path):
            assert module in allowed, (path.name, module)


#: What each layer of shared/ARCHITECTURE.md may import (besides itself). A DAG, not a line: reports sit over
#: the store and never reach training, queue or inference; inference (a done run's model) reads reports'
#: `Evaluation` record. Every module of `kcnn` and every import in it, `TYPE_CHECKING` ones included, obeys it.
BASE = {"errors", "files"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "files": {"errors"},
    "geometry": {"errors"},
    "throughput": set(),
    "contract": BASE | {"config", "throughput"},
    "stats": {"errors"},
    "config": BASE | {"geometry"},
    "data": BASE | {"config", "geometry"},
    "training": BASE | {"contract", "config", "data", "geometry", "throughput"},
    "store": BASE | {"contract", "config", "geometry", "throughput", "data"},
    "queue": BASE | {"contract", "config", "data", "geometry", "stats", "throughput", "training", "store"},
    "reports": BASE | {"contract", "config", "geometry", "stats", "throughput", "store"},
    "inference": BASE | {"contract", "config", "data", "geometry", "training", "store", "reports"},
    "api": BASE
    | {
        "contract",
        "config",
        "data",
        "geometry",
        "stats",
        "throughput",
        "training",
        "store",
        "queue",
        "reports",
        "inference",
    },
    "cli": BASE | {"config", "api"},
    "__init__": {"api", "config", "errors"},
}


def _violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        layer = relative.parts[0].removesuffix(".py")
        for module in sorted(_kcnn_imports(path)):
            parts = module.split(".")
            if len(parts) < 2 or parts[1] == layer:
                continue
            if parts[1] not in ALLOWED.get(layer, set()):
                found.append(f"{relative} ({layer}) imports {module}")
    return found


def test_every_layer_imports_only_what_the_architecture_allows():
    package = Path(kcnn.__file__).parent
    layers = {path.relative_to(package).parts[0].removesuffix(".py") for path in package.rglob("*.py")}
    assert layers <= set(ALLOWED), f"a layer the map does not know: {layers - set(ALLOWED)}"
    assert _violations(package) == []


def test_the_layer_check_fails_on_a_violation(tmp_path):
    fake = tmp_path / "kcnn"
    (fake / "reports").mkdir(parents=True)
    (fake / "reports" / "table.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                                "    from kcnn.training.train import RunResult\n")  # fmt: skip
    (fake / "store").mkdir()
    (fake / "store" / "rows.py").write_text("import kcnn.queue.runner\n")
    assert _violations(fake) == [
        "reports/table.py (reports) imports kcnn.training.train",
        "store/rows.py (store) imports kcnn.queue.runner",
    ]
