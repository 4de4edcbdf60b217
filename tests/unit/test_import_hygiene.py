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


def test_reports_never_import_the_queue_or_training_internals():
    package = Path(kcnn.__file__).parent / "reports"
    for path in package.glob("*.py"):
        imports = [
            line.strip() for line in path.read_text().splitlines() if line.strip().startswith(("from ", "import "))
        ]
        assert not [line for line in imports if "kcnn.queue" in line], path.name
        assert not [line for line in imports if "kcnn.training.model" in line or "torch_loop" in line], path.name


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
    # The CLI and the TUI use `kcnn.api` for everything the engine does; besides it they may read the
    # config's field list and parser, the errors, and the reports' Rich tables (views, never printed there).
    allowed = ("kcnn", "kcnn.api", "kcnn.config", "kcnn.errors", "kcnn.cli")
    faces = [*(Path(kcnn.__file__).parent / "cli").glob("*.py"), *(ROOT / "tui").rglob("*.py")]
    assert len(faces) > 15
    for path in faces:
        for module in _kcnn_imports(path):
            assert module in allowed or module.startswith(("kcnn.cli.", "kcnn.reports.")), (path.name, module)


LAYERS = (
    "errors", "geometry", "stats", "files", "config", "data", "training", "store", "queue", "reports", "api", "cli"
)  # fmt: skip


def test_each_layer_imports_only_the_layers_below_it():
    package = Path(kcnn.__file__).parent
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        layer = relative.parts[0].removesuffix(".py")
        if layer == "__init__":
            continue
        rank = LAYERS.index(layer)
        for module in _kcnn_imports(path):
            parts = module.split(".")
            if len(parts) < 2 or parts[1] == layer:
                continue
            assert LAYERS.index(parts[1]) < rank, f"{relative} ({layer}) imports {module}"
