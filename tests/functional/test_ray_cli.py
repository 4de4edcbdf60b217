"""`kcnn worker --ray` mistakes: one line each, exit code 2, nothing started (no Ray cluster needed)."""

import pytest
from functional.conftest import kcnn


def one_line_error(done) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.slow
def test_without_ray_installed_the_extra_is_named(store_path, tmp_path):
    blocked = tmp_path / "no-ray" / "ray"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    done = kcnn("worker", "--ray", "--once", env={"PYTHONPATH": str(blocked.parent)})
    assert "pip install 'kcnn[ray]'" in one_line_error(done)
    assert not store_path.exists()  # refused before the store is touched


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--ray", "--stall", "60"], "`--stall` ends a stalled local child; it is not available with `--ray`"),
        (["--ray", "auto", "--gpus", "0"], "on Ray, ask for GPU slots with `--per-gpu N`"),
        (["--cpus-per-run", "2"], "`cpus_per_run` (`--cpus-per-run`) is for Ray slots"),
        (["--ray", "--cpus-per-run", "0"], "--cpus-per-run: expects a number greater than 0"),
    ],
)
def test_options_that_do_not_go_with_ray_say_so(store_path, arguments, expected):
    assert expected in one_line_error(kcnn("worker", *arguments, "--once"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:1", "error: Cannot reach the Ray cluster at 127.0.0.1:1 ("),
        ("not-an-address", "error: `--ray` takes auto, HOST:PORT or nothing (start Ray here); got 'not-an-address'."),
        ("127.0.0.1:99999", "error: `--ray 127.0.0.1:99999`: a port is a number from 1 to 65535; got 99999"),
        ("127.0.0.1:0", "error: `--ray 127.0.0.1:0`: a port is a number from 1 to 65535; got 0"),
    ],
)
def test_an_address_where_no_cluster_answers_is_one_line(store_path, address, expected):
    pytest.importorskip("ray", reason="needs Ray: pip install 'kcnn[ray]'")
    assert one_line_error(kcnn("worker", "--ray", address, "--once")).startswith(expected)
