"""A Ray head whose own Ray instance lost its node: told apart from a missing install, and restarted once.

A stand-in for the ray module plays a local instance whose first node is dead (issue 23, case 5: the head
said "could not start … (every node needs this kcnn installed)" and exited with the runs queued).
"""

import pytest

from kcnn.errors import KcnnError
from kcnn.queue import ray_head
from kcnn.queue.ray_head import RayPool
from kcnn.queue.ray_trainer import slot_problem
from kcnn.queue.settings import WorkerSettings
from kcnn.store import Store

DIED = "The actor died unexpectedly before finishing this task.\n\tclass_name: SlotActor"


class Ref:
    def __init__(self, generation):
        self.generation = generation


class Actor:
    def __init__(self, ray):
        self.ray = ray
        self.where = self
        self.generation = ray.generation

    def remote(self, *args):
        return Ref(self.generation)


class Remote:
    def __init__(self, ray):
        self.ray = ray

    def options(self, **options):
        return self

    def remote(self, *args):
        return Actor(self.ray)


class LocalRay:
    """The ray module as a head sees it; the first instance's node is dead, a fresh one's is alive."""

    def __init__(self, first_node_dies=True):
        self.generation = 0
        self.inits = 0
        self.first_node_dies = first_node_dies

    def is_initialized(self):
        return False

    def init(self, address=None, **options):
        self.inits += 1
        self.generation += 1

    def shutdown(self):
        pass

    def cluster_resources(self):
        return {"CPU": 2.0}

    def nodes(self):
        alive = not (self.first_node_dies and self.generation == 1)
        return [{"Alive": alive, "NodeManagerAddress": "127.0.0.1"}]

    def remote(self, cls):
        return Remote(self)

    def wait(self, refs, timeout=None):
        return refs, []

    def get(self, ref, timeout=None):
        if ref.generation == 1 and self.first_node_dies:
            raise RuntimeError(DIED)
        return {"node_ip": "127.0.0.1", "node_id": "n", "host": "h", "cuda_visible_devices": ""}

    def put(self, value):
        return value

    def kill(self, actor, no_restart=True):
        pass


@pytest.fixture
def pool(tmp_path, monkeypatch):
    Store(tmp_path / "s").close()
    monkeypatch.setattr(ray_head, "NODE_CHECK_SECONDS", 0.0)
    lines = []

    def make(ray, address="local"):
        monkeypatch.setattr(ray_head, "import_ray", lambda: ray)
        monkeypatch.setattr(ray_head, "check_reachable", lambda address: None)
        settings = WorkerSettings(store_path=tmp_path / "s", poll_seconds=0.01, once=True)
        return RayPool(settings, address, jobs=1, log=lines.append), lines

    return make


def test_a_head_whose_own_instance_lost_its_node_starts_a_fresh_one_once(pool):
    ray = LocalRay()
    executor, lines = pool(ray)
    executor.open()
    executor.start()
    for thread in executor.threads:
        thread.join(timeout=10)
    assert ray.inits == 2 and executor.restarted
    assert all(slot.where for slot in executor.slots)
    said = "\n".join(lines)
    assert "its actor's process died (The actor died unexpectedly before finishing this task.)" in said
    assert "starting a fresh one (once)" in said and "every node needs this kcnn" not in said


def test_a_cluster_given_by_address_is_never_restarted_and_the_cause_is_named(pool, monkeypatch):
    monkeypatch.setattr(ray_head, "STARTUP_WAIT_SECONDS", 0.3)
    ray = LocalRay()
    executor, _ = pool(ray, address="10.0.0.1:6379")
    executor.open()
    with pytest.raises(KcnnError, match=r"No Ray slot started within .*its actor's process died"):
        executor.start()
    assert ray.inits == 1 and not executor.restarted


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "The actor died because of an error raised in its creation task, ray::SlotActor.__init__()\n"
            "ModuleNotFoundError: No module named 'kcnn'",
            "ModuleNotFoundError: No module named 'kcnn' (every node needs this kcnn and its dependencies",
        ),
        ("The actor is dead because its node has died. Node Id: 8f2a", "its Ray node died (The actor is dead"),
        (DIED, "its actor's process died (The actor died unexpectedly before finishing this task.)"),
        ("ValueError: bad threads", "ValueError: bad threads"),
    ],
)
def test_a_slot_that_cannot_start_is_told_by_its_cause(text, says):
    problem = slot_problem(RuntimeError(text))
    assert problem.startswith(says) and "\n" not in problem
    if "died" in says:
        assert "/tmp/ray/session_latest/logs" in problem
