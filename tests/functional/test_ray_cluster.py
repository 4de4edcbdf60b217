"""`kcnn worker --ray` on a local Ray cluster (`ray.cluster_utils.Cluster`: a head and nodes as local processes).

Ray starts servers; these tests run only inside a network namespace that has nothing but loopback
(`nox -s tests` runs them in one: ``unshare --net sh -c 'ip link set lo up; exec pytest -m ray'``).
Nodes declare logical resources (``num_gpus=1`` on this CPU-only machine), so fractional-GPU placement
is tested for real; training itself runs on the CPU.
"""

import json
import re
import signal
import socket
import time
from pathlib import Path

import pytest
from functional.conftest import TINY, kcnn, start_worker, two_class_folder, wait_for

from kcnn.store import Store

ray_cluster_utils = pytest.importorskip("ray.cluster_utils", reason="Ray tests need Ray: pip install 'kcnn[ray]'")

pytestmark = [pytest.mark.ray, pytest.mark.slow]

NAMESPACE_HINT = (
    "Ray tests start servers: run them inside a loopback-only network namespace, as `nox -s tests` does: "
    "unshare --net sh -c 'ip link set lo up; exec pytest -m ray'"
)


@pytest.fixture(autouse=True)
def _loopback_only():
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        pytest.skip(NAMESPACE_HINT)


@pytest.fixture
def make_cluster():
    """Start a Ray cluster: a head that trains nothing (0 CPUs) and the given nodes."""
    clusters = []

    def make(*nodes: dict):
        cluster = ray_cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        clusters.append(cluster)
        added = [cluster.add_node(**node) for node in nodes]
        cluster.wait_for_nodes()
        return cluster, added

    yield make
    for cluster in clusters:
        cluster.shutdown()


def head(cluster, *args: str, log: Path, env: dict | None = None):
    """`kcnn worker --ray ADDRESS` in the background: short leases, a checkpoint every epoch, quick polls."""
    return start_worker(
        "--ray", cluster.address, "--lease", "3", "--poll", "0.2", "--checkpoint-every", "0", *args, log=log, env=env
    )


def queue(*args: str, env: dict | None = None) -> None:
    done = kcnn("queue", "add", *TINY, *args, env=env)
    assert done.returncode == 0, done.stderr


def runs_and_events(store_path: Path):
    with Store(store_path) as store:
        runs = store.runs()
        events = store.events()
        epochs = {run.id: store.epochs(run.id) for run in runs}
        assert store.integrity_check() == "ok"
    return runs, events, epochs


def slot_events(events, run_id=None) -> list[str]:
    return [e["message"] for e in events if e["kind"] == "ray_slot" and run_id in (None, e["run_id"])]


def node_of(message: str) -> str:
    return re.search(r"node id (\w+)", message).group(1)


def assert_trained_once(runs, events, epochs, epochs_per_run: int) -> None:
    """Every run done exactly once, with epochs 1..N each recorded once."""
    assert [run.state for run in runs] == ["done"] * len(runs)
    for run in runs:
        assert [e["epoch"] for e in epochs[run.id]] == list(range(1, epochs_per_run + 1)), run.id
        assert sum(1 for e in events if e["run_id"] == run.id and e["kind"] == "done") == 1, run.id


def test_six_run_sweep_on_two_nodes_trains_each_run_once(make_cluster, store_path, tmp_path):
    cluster, _ = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    queue("--epochs", "2", "--repeats", "6")
    worker = head(cluster, "--once", "--jobs", "2", log=tmp_path / "head.log")
    assert worker.wait(timeout=300) == 0, (tmp_path / "head.log").read_text()

    runs, events, epochs = runs_and_events(store_path)
    assert len(runs) == 6
    assert_trained_once(runs, events, epochs, 2)
    assert [run.attempt for run in runs] == [1] * 6
    assert len({node_of(message) for message in slot_events(events)}) == 2  # one slot per one-CPU node


def test_a_removed_node_s_run_resumes_from_its_checkpoint_on_the_other_node(
    make_cluster, store_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", "pause@seed=0,epoch=0,seconds=1")  # ≥ 1 s per epoch: time to act
    cluster, nodes = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    queue("--epochs", "6")
    worker = head(cluster, "--once", "--jobs", "1", log=tmp_path / "head.log")

    def checkpointed():
        with Store(store_path) as store:
            run = store.get_run(1)
            return run.state == "running" and run.checkpoint_epoch >= 2 and slot_events(store.events(), 1)

    [first_slot] = wait_for(checkpointed, timeout=180, what="two checkpointed epochs")
    [node] = [n for n in nodes if n.node_id == node_of(first_slot)]
    cluster.remove_node(node)
    assert worker.wait(timeout=300) == 0, (tmp_path / "head.log").read_text()

    runs, events, epochs = runs_and_events(store_path)
    assert_trained_once(runs, events, epochs, 6)
    [run] = runs
    assert run.attempt == 2
    [crash] = [e for e in events if e["kind"] == "requeued"]
    assert crash["message"].startswith("crashed: SlotLost: Ray slot 1 on node") and "was lost" in crash["message"]
    first, second = slot_events(events, 1)
    assert node_of(second) != node_of(first)  # the actor came back on the live node
    resumed = [e["attempt"] for e in epochs[1]]
    assert resumed[:2] == [1, 1] and resumed[-1] == 2  # the checkpointed epochs were kept, not trained again


def test_four_slots_share_one_gpu_and_train_at_once(make_cluster, store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", ";".join(f"pause@seed={s},epoch=0,seconds=1.5" for s in range(4)))
    cluster, _ = make_cluster({"num_cpus": 1, "num_gpus": 1})
    queue("--epochs", "4", "--repeats", "4")
    worker = head(cluster, "--once", "--per-gpu", "4", log=tmp_path / "head.log")

    most_at_once = 0
    while worker.poll() is None:
        with Store(store_path) as store:
            most_at_once = max(most_at_once, store.count_by_state()["running"])
        time.sleep(0.1)
    assert worker.returncode == 0, (tmp_path / "head.log").read_text()

    runs, events, epochs = runs_and_events(store_path)
    assert_trained_once(runs, events, epochs, 4)
    assert most_at_once == 4
    assert max(run.started for run in runs) < min(run.finished for run in runs)  # all four overlapped
    messages = slot_events(events)
    assert len(messages) == 4 and all(m.endswith("CUDA_VISIBLE_DEVICES=0)") for m in messages)
    assert "4 slot(s), 1/4 GPU each" in (tmp_path / "head.log").read_text()


def test_a_new_head_finishes_the_sweep_of_a_killed_one(make_cluster, store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", ";".join(f"pause@seed={s},epoch=0,seconds=0.5" for s in range(6)))
    cluster, _ = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    queue("--epochs", "4", "--repeats", "6")
    first = head(cluster, "--jobs", "2", log=tmp_path / "first.log")

    def one_done_one_checkpointed():
        with Store(store_path) as store:
            runs = store.runs()
        done = [run for run in runs if run.state == "done"]
        midway = [run for run in runs if run.state == "running" and run.checkpoint_epoch >= 1]
        return done and midway

    wait_for(one_done_one_checkpointed, timeout=240, what="a run done and another midway")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    time.sleep(3.5)  # the dead head's leases lapse
    second = head(cluster, "--once", "--jobs", "2", log=tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()

    runs, events, epochs = runs_and_events(store_path)
    assert len(runs) == 6
    assert_trained_once(runs, events, epochs, 4)
    assert any(run.attempt == 2 for run in runs)  # what the killed head held was resumed, not lost


def test_images_are_read_once_on_the_head_and_never_on_the_nodes(make_cluster, store_path, tmp_path, monkeypatch):
    images = two_class_folder(tmp_path / "images", images=1000)  # 2,000 PNGs
    cache = tmp_path / "cache"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import os, sys\n"
        "log, watched = os.environ.get('OPEN_LOG'), os.environ.get('WATCHED', '').split(os.pathsep)\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], str) and args[0].startswith(tuple(filter(None, watched))):\n"
        "        with open(f'{log}.{os.getpid()}', 'a') as out:\n"
        "            out.write(args[0] + '\\n')\n"
        "if log:\n"
        "    sys.addaudithook(hook)\n"
    )
    watched = f"{images}{':'}{cache}"
    monkeypatch.setenv("KCNN_CACHE", str(cache))
    monkeypatch.setenv("PYTHONPATH", str(hooks))
    monkeypatch.setenv("WATCHED", watched)
    monkeypatch.setenv("OPEN_LOG", str(tmp_path / "node-opens"))  # inherited by the nodes' processes
    cluster, _ = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    queue("--data", str(images), "--epochs", "1", "--repeats", "3", env={"OPEN_LOG": str(tmp_path / "queue-opens")})
    head_env = {"OPEN_LOG": str(tmp_path / "head-opens")}
    worker = head(cluster, "--once", "--jobs", "2", log=tmp_path / "head.log", env=head_env)
    assert worker.wait(timeout=300) == 0, (tmp_path / "head.log").read_text()

    runs, events, epochs = runs_and_events(store_path)
    assert_trained_once(runs, events, epochs, 1)
    assert len({run.dataset_fingerprint for run in runs}) == 1 and runs[0].dataset_fingerprint
    assert not list(tmp_path.glob("node-opens.*"))  # no node process opened an image or the cache
    head_opens = [line for path in tmp_path.glob("head-opens.*") for line in path.read_text().splitlines()]
    image_opens = [line for line in head_opens if line.startswith(str(images))]
    assert len(set(image_opens)) == 2000  # every image read on the head …
    assert len(image_opens) == 2000  # … exactly once (decoded into the cache), for the three runs
    assert "datasets read on the head: 1" in (tmp_path / "head.log").read_text()


def test_cancel_and_a_polite_stop_work_on_ray_as_locally(make_cluster, store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", ";".join(f"pause@seed={s},epoch=0,seconds=1" for s in range(2)))
    cluster, _ = make_cluster({"num_cpus": 1})
    queue("--epochs", "8", "--repeats", "2")
    worker = head(cluster, "--jobs", "1", log=tmp_path / "head.log")

    def running_with_epochs(run_id: int):
        with Store(store_path) as store:
            run = store.get_run(run_id)
        return run.state == "running" and run.checkpoint_epoch >= 1

    wait_for(lambda: running_with_epochs(1), timeout=180, what="run 1 training")
    listed = kcnn("workers", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["slots"] == ["ray 1: node 127.0.0.1 CPU, run 1"] and entry["runs"] == [1]
    assert kcnn("queue", "cancel", "1").returncode == 0
    wait_for(lambda: running_with_epochs(2), timeout=180, what="the slot to move on to run 2")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0, (tmp_path / "head.log").read_text()

    with Store(store_path) as store:
        cancelled, stopped = store.get_run(1), store.get_run(2)
        assert store.integrity_check() == "ok"
    assert cancelled.state == "cancelled" and cancelled.epochs_done < 8
    assert stopped.state == "queued" and stopped.checkpoint_epoch >= 1  # back in the queue, resumable
    assert kcnn("workers", "--format", "json").stdout.strip() == "[]"


def test_a_race_is_run_and_decided_by_a_ray_head(make_cluster, store_path, tmp_path):
    cluster, _ = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    queue("--kernel", "2", "3", "--epochs", "1")
    worker = head(cluster, "--jobs", "2", log=tmp_path / "head.log")  # waits for work: the race comes later

    def count_done() -> int:
        with Store(store_path) as store:
            return store.count_by_state()["done"]

    wait_for(lambda: count_done() == 2, timeout=180, what="the first two runs")
    started = kcnn("race", "--top", "2", "--max-repeats", "3")
    assert started.returncode == 0, started.stderr

    def race_over():
        [study] = json.loads(kcnn("studies", "--format", "json").stdout)
        return study if study["state"] == "done" else None

    study = wait_for(race_over, timeout=300, interval=1, what="the race's verdict")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0, (tmp_path / "head.log").read_text()
    assert study["kind"] == "race" and study["state"] == "done"
    assert study["verdict"].startswith("not separable within 3 repeats") or " wins: " in study["verdict"]
    runs, events, epochs = runs_and_events(store_path)
    assert_trained_once(runs, events, epochs, 1)
    assert len({(run.config_key, run.seed) for run in runs}) == len(runs) == 6  # 3 seeds of each, none twice


def test_an_optuna_study_prunes_between_epochs_on_ray_as_locally(make_cluster, store_path, tmp_path):
    import optuna

    from kcnn.queue.optimize import optuna_study

    space = tmp_path / "space.toml"
    space.write_text("kernel_size = [2, 3]\n[fixed]\ninput_size = 16\nchannels = [4]\ndense_units = 8\nepochs = 4\n")
    cluster, _ = make_cluster({"num_cpus": 1}, {"num_cpus": 1})
    started = kcnn("optimize", str(space), "--trials", "2", "--parallel", "2", "--pruner", "median")
    assert started.returncode == 0, started.stderr
    with Store(store_path) as store:  # two earlier trials at 100% in every epoch: the median to beat
        ostudy = optuna_study(store.path, store.get_study(1))
        for _ in range(2):
            ostudy.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={e: 1.0 for e in range(1, 5)}))
    worker = head(cluster, "--once", "--jobs", "2", log=tmp_path / "head.log")
    assert worker.wait(timeout=300) == 0, (tmp_path / "head.log").read_text()

    with Store(store_path) as store:
        runs = store.study_runs(1)
        study = store.get_study(1)
        assert store.integrity_check() == "ok"
    assert len(runs) == 2 and all(run.state == "pruned" and 1 <= run.epochs_done < 4 for run in runs)
    assert study.state == "done" and "0 complete, 2 pruned, 0 failed" in study.verdict
    trials = optuna_study(store_path, study).get_trials(deepcopy=False)
    assert sorted(trial.state.name for trial in trials) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
