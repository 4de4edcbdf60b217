"""Sessions: `nox -s tests` (the whole suite on CPU), `nox -s lint`, `nox -s bench`."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

TORCH = "torch==2.13.0"


def install_cpu_torch(session: nox.Session) -> None:
    """Install torch first, pinned, so pip's own configuration picks the machine's CPU build.

    A plain `torch` requirement could pull a multi-GB CUDA build; the index is never named here.
    """
    session.install(TORCH)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite on the CPU."""
    install_cpu_torch(session)
    session.install("-e", ".[test]", "-c", "tests/constraints.txt")
    session.run("pytest", *session.posargs, env={"KERAS_BACKEND": "torch"})


@nox.session(default=False)
def tests_fit(session: nox.Session) -> None:
    """Run the whole suite with Keras' `fit` forced, as on a Keras release the torch loop's probe rejects."""
    install_cpu_torch(session)
    session.install("-e", ".[test]", "-c", "tests/constraints.txt")
    session.run("pytest", *session.posargs, env={"KERAS_BACKEND": "torch", "KCNN_TRAIN_LOOP": "fit"})


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and types with ruff and mypy."""
    session.install("ruff>=0.6", "mypy>=1.10")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "src/kcnn", "tui")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print their figures."""
    install_cpu_torch(session)
    session.install("-e", ".[optuna]")  # bench/search_efficiency.py runs Optuna studies
    for script in sorted(Path("bench").glob("[!_]*.py")):
        session.run("python", str(script), *session.posargs)
