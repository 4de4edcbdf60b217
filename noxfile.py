"""Sessions: `nox -s tests` (the whole suite on CPU), `nox -s fast` (the lane to use while working), `nox -s lint`,
`nox -s bench`."""

from __future__ import annotations

import shutil
import subprocess
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


#: The test files `tests` runs a second time with fused execution on (issue 26).
FUSION_SUITES = ("tests/functional/test_worker.py", "tests/functional/test_optimize_cli.py",
                 "tests/functional/test_studies_cli.py", "tests/functional/test_queue_cli.py",
                 "tests/functional/test_cross_validation_cli.py")  # fmt: skip


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite on the CPU; the Ray tests inside a loopback-only network namespace.

    With arguments, pytest gets them as they are (e.g. ``nox -s tests -- tests/unit -x``).
    """
    install_cpu_torch(session)
    session.install("-e", ".[test]", "-c", "tests/constraints.txt")
    env = {"KERAS_BACKEND": "torch"}
    if session.posargs:
        session.run("pytest", *session.posargs, env=env)
        return
    session.run("pytest", "-m", "not ray", env=env)
    run_ray_tests(session, env)
    # The worker, kill-and-resume, pruning, race and queue tests again with fusion on: each worker slot trains
    # up to 3 compatible runs as one program (`kcnn worker --fuse`, whose default KCNN_FUSE sets).
    session.run("pytest", "-m", "not ray", *FUSION_SUITES, env={**env, "KCNN_FUSE": "3", "KCNN_TRAIN_LOOP": "auto"})


def run_ray_tests(session: nox.Session, env: dict[str, str]) -> None:
    """Run the tests marked `ray` where Ray can only reach loopback: a fresh network namespace.

    Ray binds to the machine's address unless loopback is all there is. `unshare --net` needs root (CI
    has it); elsewhere the tests run outside one and skip, each saying why.
    """
    isolated = shutil.which("unshare") and shutil.which("ip")
    if isolated and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
        session.run("unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                    "pytest", "-m", "ray", env=env, external=True)  # fmt: skip
        return
    session.log("unshare --net is not permitted here: the Ray tests will skip")
    session.run("pytest", "-m", "ray", env=env)


@nox.session(default=False)
def fast(session: nox.Session) -> None:
    """Run the fast lane: every test not marked `slow` (trains for over a second, starts processes) or `ray`.

    About half a minute on 2 cores; the full suite (`nox -s tests`) still runs in CI.
    """
    install_cpu_torch(session)
    session.install("-e", ".[test]", "-c", "tests/constraints.txt")
    session.run("pytest", "-m", "not slow and not ray", *session.posargs, env={"KERAS_BACKEND": "torch"})


@nox.session(default=False)
def tests_fit(session: nox.Session) -> None:
    """Run the whole suite with Keras' `fit` forced, as on a Keras release the torch loop's probe rejects."""
    install_cpu_torch(session)
    session.install("-e", ".[test]", "-c", "tests/constraints.txt")
    session.run("pytest", *session.posargs, env={"KERAS_BACKEND": "torch", "KCNN_TRAIN_LOOP": "fit"})


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and types with ruff and mypy, pinned in tests/constraints.txt (new rules are a change)."""
    session.install("ruff", "mypy", "-c", "tests/constraints.txt")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "src/kcnn", "tui")
    # The facade and the run contract are what users and every layer build on: strict, and no `Any`.
    session.run("mypy", "--strict", "--follow-imports=silent", "src/kcnn/api", "src/kcnn/contract.py")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ and print their figures."""
    install_cpu_torch(session)
    session.install("-e", ".[optuna,ray]")  # Optuna studies (search_efficiency.py), Ray (ray_overhead.py)
    for script in sorted(Path("bench").glob("[!_]*.py")):
        session.run("python", str(script), *session.posargs)
