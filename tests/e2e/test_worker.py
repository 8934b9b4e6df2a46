"""The worker end to end: every row of DESIGN.md's semantics table, bad input,
deadlines with a diagnosis, RBAC refusals and an unreachable API server,
through real gRPC (grpcio) against the static binary and kubesim."""
import threading
import time

import grpc
import pytest

from cplane_fixture import POOL, Client, code_of, pb2, start_worker, wait_until
from kubesim_fixture import start_kubesim

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One simulator (30 ms a pod) and one worker shared by the table tests; names are unique per test."""
    d = tmp_path_factory.mktemp("worker")
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "30", "--node", POOL)
    w = start_worker(sim, d, "--create-timeout", "20s", "--delete-timeout", "20s", "--max-replicas", "50")
    c = Client(w.target)
    yield sim, w, c
    c.close()
    w.stop()
    sim.stop()


def deployment(sim, name):
    code, obj = sim.api("GET", NS_DEPLOY % sim.namespace + "/" + name)
    return obj if code == 200 else None


def wait_phase(c, name, phase, timeout=15):
    def reached():
        try:
            last = c.get(name)
        except grpc.RpcError:
            return None
        return last if last.phase == phase else None
    return wait_until(reached, timeout, "cluster %s in phase %s" % (name, phase))


def test_create_absent_blocks_until_ready(env):
    sim, w, c = env
    pb = pb2()
    t0 = time.monotonic()
    r = c.create("t-create", 5)
    assert r.result == pb.SUCCESS
    assert r.cluster.phase == pb.READY
    assert r.cluster.ready_replicas == 5 and r.cluster.replicas == 5
    assert r.cluster.image == "registry.k8s.io/pause:3.9"
    assert r.cluster.created_unix_ms > 0
    assert time.monotonic() - t0 >= 0.1          # 5 pods at 30 ms each: it did wait
    dep = deployment(sim, "t-create")
    labels = dep["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "cplane"
    assert labels["cplane.dev/cluster"] == "t-create"
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"cplane.dev/pool": "subtask-topology-aware"}
    assert dep["status"]["availableReplicas"] == 5
    assert 'msg="Creating cluster" name=t-create replicas=5' in w.log()
    assert 'msg="Created cluster" name=t-create replicas=5 took=' in w.log()


def test_create_ready_same_spec_is_idempotent(env):
    sim, w, c = env
    pb = pb2()
    c.create("t-idem", 2)
    r = c.create("t-idem", 2, timeout=2)
    assert r.result == pb.SUCCESS and r.cluster.phase == pb.READY


def test_create_creating_same_spec_is_in_progress_and_first_caller_keeps_waiting(env):
    sim, w, c = env
    pb = pb2()
    first = c.create_future("t-inprog", 40)          # 40 pods at 30 ms: over a second
    wait_phase(c, "t-inprog", pb.CREATING)
    r = c.create("t-inprog", 40, timeout=2)
    assert r.result == pb.IN_PROGRESS
    assert r.cluster.phase == pb.CREATING
    assert first.result(timeout=20).result == pb.SUCCESS


def test_create_other_spec_is_already_exists_naming_the_spec(env):
    sim, w, c = env
    c.create("t-other", 2)
    code, msg = code_of(c.create, "t-other", 3)
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "replicas=2" in msg and "pause:3.9" in msg
    code, msg = code_of(c.create, "t-other", 2, "nginx:1.25")
    assert code == grpc.StatusCode.ALREADY_EXISTS


def test_create_while_creating_with_other_spec_is_already_exists(env):
    sim, w, c = env
    pb = pb2()
    first = c.create_future("t-other2", 40)
    wait_phase(c, "t-other2", pb.CREATING)
    code, msg = code_of(c.create, "t-other2", 4)
    assert code == grpc.StatusCode.ALREADY_EXISTS and "replicas=40" in msg
    assert first.result(timeout=20).result == pb.SUCCESS


def test_create_deleting_is_failed_precondition(env):
    sim, w, c = env
    pb = pb2()
    c.create("t-deleting", 40)
    sim.admin("pace", {"ms": 200})                    # foreground deletion removes pods slowly
    try:
        d = c.delete_future("t-deleting")
        wait_phase(c, "t-deleting", pb.DELETING)
        sim.knobs(controller_paused=True)             # still deleting under the two calls below
        code, msg = code_of(c.create, "t-deleting", 40)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "being deleted" in msg
        r = c.delete("t-deleting", timeout=5)          # a second Delete: IN_PROGRESS at once
        assert r.result == pb.IN_PROGRESS
    finally:
        sim.knobs(controller_paused=False)
        sim.admin("pace", {"ms": 30})
    assert d.result(timeout=20).result == pb.SUCCESS


def test_delete_absent_is_not_found(env):
    sim, w, c = env
    code, msg = code_of(c.delete, "t-nothing-here")
    assert code == grpc.StatusCode.NOT_FOUND and "t-nothing-here" in msg


def test_delete_blocks_until_gone(env):
    sim, w, c = env
    pb = pb2()
    c.create("t-del", 3)
    r = c.delete("t-del")
    assert r.result == pb.SUCCESS
    assert deployment(sim, "t-del") is None
    code, _ = code_of(c.get, "t-del")
    assert code == grpc.StatusCode.NOT_FOUND
    assert 'msg="Deleting cluster" name=t-del' in w.log()
    assert 'msg="Deleted cluster" name=t-del took=' in w.log()


def test_delete_during_create_aborts_the_waiting_create(env):
    sim, w, c = env
    pb = pb2()
    first = c.create_future("t-abort", 45)
    wait_phase(c, "t-abort", pb.CREATING)
    assert c.delete("t-abort").result == pb.SUCCESS
    with pytest.raises(grpc.RpcError) as e:
        first.result(timeout=10)
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert "t-abort" in e.value.details()


def test_get_and_list(env):
    sim, w, c = env
    pb = pb2()
    c.create("t-list-b", 1)
    c.create("t-list-a", 2)
    g = c.get("t-list-a")
    assert g.name == "t-list-a" and g.replicas == 2 and g.ready_replicas == 2 and g.phase == pb.READY
    names = [x.name for x in c.list().clusters]
    assert names == sorted(names)
    assert "t-list-a" in names and "t-list-b" in names
    code, _ = code_of(c.get, "t-absent")
    assert code == grpc.StatusCode.NOT_FOUND


def test_watch_follows_to_deleted(env):
    sim, w, c = env
    pb = pb2()
    first = c.create_future("t-watch", 10)
    wait_phase(c, "t-watch", pb.CREATING)
    seen = []

    def follow():
        for m in c.watch("t-watch", timeout=30):
            seen.append((m.phase, m.ready_replicas))
    t = threading.Thread(target=follow)
    t.start()
    assert first.result(timeout=20).result == pb.SUCCESS
    c.delete("t-watch")
    t.join(30)
    assert not t.is_alive()
    phases = [p for p, _ in seen]
    assert phases[0] == pb.CREATING
    assert pb.READY in phases and pb.DELETING in phases
    assert phases[-1] == pb.DELETED
    readies = [r for p, r in seen if p == pb.CREATING]
    assert readies == sorted(readies)                 # progress only goes up while creating


def test_watch_absent_is_not_found(env):
    sim, w, c = env
    with pytest.raises(grpc.RpcError) as e:
        list(c.watch("t-no-watch", timeout=5))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("name,replicas,image,field", [
    ("", 1, "", "name"),
    ("Upper", 1, "", "name"),
    ("-lead", 1, "", "name"),
    ("trail-", 1, "", "name"),
    ("a" * 64, 1, "", "name"),
    ("under_score", 1, "", "name"),
    ("ok-name", 0, "", "replicas"),
    ("ok-name", -3, "", "replicas"),
    ("ok-name", 51, "", "replicas"),
    ("ok-name", 1, "Not An Image", "image"),
    ("ok-name", 1, "nginx:", "image"),
])
def test_invalid_create_names_field_and_rule(env, name, replicas, image, field):
    sim, w, c = env
    code, msg = code_of(c.create, name, replicas, image)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert msg.startswith(field if field != "image" else "image ")


def test_invalid_names_on_delete(env):
    sim, w, c = env
    code, msg = code_of(c.delete, "Bad_Name")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("name")


def test_unschedulable_create_says_why(tmp_path):
    """No node carries the selector's label: the answer quotes the scheduler, not a bare timeout."""
    sim = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "10", "--node", POOL)
    w = start_worker(sim, tmp_path, "--create-timeout", "2s", node_selector="cplane.dev/pool=elsewhere")
    c = Client(w.target)
    try:
        t0 = time.monotonic()
        code, msg = code_of(c.create, "t-unsched", 3, timeout=30)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 10
        assert "0/3" in msg
        assert "Unschedulable" in msg
        assert "didn't match Pod's node affinity/selector" in msg
        # the client's own shorter deadline: answered a margin before it, still with the reason
        code, msg = code_of(c.create, "t-unsched2", 2, timeout=1.5)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "Unschedulable" in msg or "0/2" in msg
    finally:
        c.close()
        w.stop()
        sim.stop()


def test_progress_deadline_exceeded_is_failed(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "10", "--node", POOL)
    w = start_worker(sim, tmp_path, "--create-timeout", "1s", node_selector="cplane.dev/pool=elsewhere")
    c = Client(w.target)
    pb = pb2()
    try:
        code, msg = code_of(c.create, "t-failed", 2, timeout=30)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        g = wait_phase(c, "t-failed", pb.FAILED, timeout=10)
        assert g.message
        code, msg = code_of(c.create, "t-failed", 2)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "delete it first" in msg
        assert c.delete("t-failed").result == pb.SUCCESS
    finally:
        c.close()
        w.stop()
        sim.stop()


def test_rbac_refusal_is_permission_denied(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL)
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        sim.admin("knobs", {"deny": ["create deployments"]})
        code, msg = code_of(c.create, "t-rbac", 1)
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "create" in msg and "deployments" in msg
        sim.admin("knobs", {"deny": []})
        assert c.create("t-rbac", 1).result == pb2().SUCCESS
        sim.admin("knobs", {"deny": ["delete deployments"]})
        code, msg = code_of(c.delete, "t-rbac")
        assert code == grpc.StatusCode.PERMISSION_DENIED and "delete" in msg
    finally:
        c.close()
        w.stop()
        sim.stop()


def test_api_server_down_is_unavailable(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL)
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        sim.stop()
        code, msg = code_of(c.create, "t-down", 1, timeout=60)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert "API server" in msg
    finally:
        c.close()
        w.stop()
