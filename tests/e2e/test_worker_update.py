"""UpdateCluster end to end: every Update row of DESIGN.md's semantics table,
the merge patch on the wire, rollouts through kubesim (new ReplicaSet,
updatedReplicas climbing), an unpullable image answered with the pull
error, phase UPDATING in Get and Watch, and a worker restarted mid-rollout."""
import threading
import time

import grpc
import pytest

from cplane_fixture import POOL, Client, code_of, pb2, start_worker
from kubesim_fixture import start_kubesim

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


class UClient(Client):
    def __init__(self, target):
        super().__init__(target)
        pb = self.pb
        self._update = self.channel.unary_unary("/cplane.v1.ClusterService/UpdateCluster",
                                                request_serializer=pb.UpdateClusterRequest.SerializeToString,
                                                response_deserializer=pb.UpdateClusterResponse.FromString)

    def update(self, name, replicas=0, image="", resources=None, timeout=30):
        return self._update(self.pb.UpdateClusterRequest(name=name, replicas=replicas, image=image,
                                                         resources=resources), timeout=timeout)

    def update_future(self, name, replicas=0, image="", resources=None, timeout=30):
        return self._update.future(self.pb.UpdateClusterRequest(name=name, replicas=replicas, image=image,
                                                                resources=resources), timeout=timeout)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("update")
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "20", "--node", POOL)
    w = start_worker(sim, d, "--create-timeout", "20s", "--delete-timeout", "20s", "--max-replicas", "50")
    c = UClient(w.target)
    yield sim, w, c, d
    c.close()
    w.stop()
    sim.stop()


def deployment(sim, name):
    code, obj = sim.api("GET", NS_DEPLOY % sim.namespace + "/" + name)
    return obj if code == 200 else None


def patches(sim, name):
    return [p for p in sim.admin("patches", method="GET")["patches"] if p["name"] == name]


def wait_for(pred, timeout=15, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)    # polls inside wait_for's bounded loop
    raise AssertionError("timed out waiting for " + what)


def test_absent_is_not_found(env):
    sim, w, c, _ = env
    code, msg = code_of(c.update, "u-none", 3)
    assert code == grpc.StatusCode.NOT_FOUND and "u-none" in msg


def test_bad_input_is_invalid_argument(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-bad", 1)
    for kw, want in ((dict(replicas=-1), "replicas"), (dict(replicas=51), "replicas"),
                     (dict(image="not an image"), "image"),
                     (dict(resources=pb.Resources(cpu_request="2", cpu_limit="1")), "resources.cpu_request"),
                     (dict(resources=pb.Resources(memory_limit="lots")), "resources.memory_limit")):
        code, msg = code_of(c.update, "u-bad", **kw)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and want in msg, (kw, msg)
    assert patches(sim, "u-bad") == []


def test_nothing_to_change_is_success_at_once(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-same", 2)
    for kw in (dict(), dict(replicas=2), dict(image="registry.k8s.io/pause:3.9")):
        r = c.update("u-same", timeout=5, **kw)
        assert r.result == pb.SUCCESS and r.cluster.phase == pb.READY and r.cluster.replicas == 2
    assert patches(sim, "u-same") == []


def test_scale_patches_only_replicas_and_blocks_until_rolled_out(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-scale", 2)
    r = c.update("u-scale", replicas=5)
    assert r.result == pb.SUCCESS and r.cluster.phase == pb.READY
    assert r.cluster.replicas == 5 and r.cluster.ready_replicas == 5 and r.cluster.updated_replicas == 5
    p = patches(sim, "u-scale")
    assert len(p) == 1 and p[0]["content_type"] == "application/merge-patch+json"
    assert p[0]["body"]["spec"] == {"replicas": 5}
    assert set(p[0]["body"]) == {"metadata", "spec"}
    assert list(p[0]["body"]["metadata"]["annotations"]) == ["cplane.dev/spec-hash"]
    dep = deployment(sim, "u-scale")
    assert dep["spec"]["replicas"] == 5 and dep["status"]["availableReplicas"] == 5
    r = c.update("u-scale", replicas=3)
    assert r.result == pb.SUCCESS and r.cluster.replicas == 3 and r.cluster.ready_replicas == 3
    assert 'msg="Updated cluster" name=u-scale replicas=3' in w.log()


def test_image_and_resources_roll_out_a_new_replicaset(env):
    sim, w, c, _ = env
    pb = pb2()
    req = pb.CreateClusterRequest(name="u-img", replicas=4, env=[pb.EnvVar(name="K", value="v")],
                                  ports=[pb.Port(name="http", port=80)], labels={"team": "db"},
                                  resources=pb.Resources(cpu_request="100m", cpu_limit="1"))
    c._create(req, timeout=30)
    before = deployment(sim, "u-img")
    h0 = before["metadata"]["annotations"]["cplane.dev/spec-hash"]
    r = c.update("u-img", image="registry.k8s.io/pause:3.10",
                 resources=pb.Resources(cpu_request="200m", cpu_limit="2", memory_request="32Mi"))
    assert r.result == pb.SUCCESS and r.cluster.phase == pb.READY
    assert r.cluster.image == "registry.k8s.io/pause:3.10"
    assert r.cluster.resources.cpu_request == "200m" and r.cluster.resources.memory_request == "32Mi"
    assert r.cluster.resources.memory_limit == ""
    assert [(e.name, e.value) for e in r.cluster.env] == [("K", "v")]      # the rest of the spec kept
    assert dict(r.cluster.labels) == {"team": "db"}
    assert r.cluster.updated_replicas == 4
    dep = deployment(sim, "u-img")
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    assert ctr["image"] == "registry.k8s.io/pause:3.10"
    assert ctr["resources"] == {"requests": {"cpu": "200m", "memory": "32Mi"}, "limits": {"cpu": "2"}}
    assert ctr["env"] == [{"name": "K", "value": "v"}]
    assert dep["metadata"]["annotations"]["cplane.dev/spec-hash"] != h0
    assert dep["metadata"]["generation"] >= 2
    # Every pod now runs the new template (a new ReplicaSet's pods).
    pods = [p for p in sim.state("pods")["pods"] if p["metadata"]["labels"].get("cplane.dev/cluster") == "u-img"]
    assert len(pods) == 4 and all(p["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.10" for p in pods)
    p = patches(sim, "u-img")[-1]["body"]
    assert "replicas" not in p["spec"]
    assert p["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"name": "http", "containerPort": 80, "protocol": "TCP"}]
    # The same target again: nothing to change.
    r = c.update("u-img", image="registry.k8s.io/pause:3.10",
                 resources=pb.Resources(cpu_request="200m", cpu_limit="2", memory_request="32Mi"), timeout=5)
    assert r.result == pb.SUCCESS


def test_same_target_in_progress_other_target_supersedes(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-race", 1)
    sim.knobs(ready_pace_ms=150)
    try:
        first = c.update_future("u-race", replicas=8)
        wait_for(lambda: c.get("u-race").phase == pb.UPDATING, what="UPDATING")
        sim.knobs(controller_paused=True)     # the rollout stays unfinished under the asserts below
        r = c.update("u-race", replicas=8, timeout=5)
        assert r.result == pb.IN_PROGRESS
        # A Create for the target's spec is IN_PROGRESS too; another spec is ALREADY_EXISTS.
        assert c.create("u-race", 8, timeout=5).result == pb.IN_PROGRESS
        code, _ = code_of(c.create, "u-race", 1, timeout=5)
        assert code == grpc.StatusCode.ALREADY_EXISTS
        second = c.update_future("u-race", replicas=3)
        with pytest.raises(grpc.RpcError) as e:
            first.result(timeout=30)
        assert e.value.code() == grpc.StatusCode.ABORTED and "superseded" in e.value.details()
        sim.knobs(ready_pace_ms=20, controller_paused=False)
        r = second.result(timeout=30)
        assert r.result == pb.SUCCESS and r.cluster.replicas == 3
    finally:
        sim.knobs(ready_pace_ms=20, controller_paused=False)


def test_creating_and_deleting_are_failed_precondition(env):
    sim, w, c, _ = env
    pb = pb2()
    sim.knobs(ready_pace_ms=300)
    try:
        f = c.create_future("u-pre", 5)
        wait_for(lambda: c.get("u-pre").phase == pb.CREATING, what="CREATING")
        sim.knobs(controller_paused=True)     # still being created while the Update arrives
        code, msg = code_of(c.update, "u-pre", 2, timeout=5)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "still being created" in msg
        sim.knobs(ready_pace_ms=5, controller_paused=False)
        f.result(timeout=30)
        sim.knobs(controller_paused=True)
        d = c.delete_future("u-pre")
        wait_for(lambda: c.get("u-pre").phase == pb.DELETING, what="DELETING")
        code, msg = code_of(c.update, "u-pre", 2, timeout=5)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "being deleted" in msg
        sim.knobs(controller_paused=False)
        assert d.result(timeout=30).result == pb.SUCCESS
    finally:
        sim.knobs(ready_pace_ms=20, controller_paused=False)


def test_watch_shows_updating_with_progress(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-watch", 2)
    sim.knobs(ready_pace_ms=100)
    try:
        stream = c.watch("u-watch", timeout=30)
        assert next(stream).phase == pb.READY
        f = c.update_future("u-watch", replicas=5)
        seen = []
        for m in stream:
            seen.append((m.phase, m.message))
            if m.phase == pb.READY and m.replicas == 5:
                break
        assert f.result(timeout=30).result == pb.SUCCESS
        updating = [msg for ph, msg in seen if ph == pb.UPDATING]
        assert updating, seen
        assert all("/5 updated, " in msg and "/5 available" in msg for msg in updating)
        stream.cancel()
    finally:
        sim.knobs(ready_pace_ms=20)


def test_unpullable_image_is_deadline_exceeded_with_the_pull_error(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-pull", 2)
    t0 = time.monotonic()
    code, msg = code_of(c.update, "u-pull", image="registry.example/nonexistent:1", timeout=3)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 3
    assert "ErrImagePull" in msg or "ImagePullBackOff" in msg, msg
    # The Deployment is left as it is: still rolling to the unpullable image.
    dep = deployment(sim, "u-pull")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/nonexistent:1"
    assert c.get("u-pull").phase == pb.UPDATING
    # Rolling back to the old image ends it.
    assert c.update("u-pull", image="registry.k8s.io/pause:3.9").result == pb.SUCCESS


def test_restart_mid_rollout_sees_updating_and_a_retry_is_in_progress(env, tmp_path):
    sim, w, c, d = env
    pb = pb2()
    c.create("u-restart", 2)
    sim.knobs(ready_pace_ms=200)
    try:
        f = c.update_future("u-restart", replicas=6)
        wait_for(lambda: c.get("u-restart").phase == pb.UPDATING, what="UPDATING")
        sim.knobs(controller_paused=True)     # still rolling out when the second worker lists it
        w2 = start_worker(sim, tmp_path, "--create-timeout", "20s")
        c2 = UClient(w2.target)
        try:
            g = c2.get("u-restart")
            assert g.phase == pb.UPDATING and g.replicas == 6
            assert c2.update("u-restart", replicas=6, timeout=5).result == pb.IN_PROGRESS
            sim.knobs(ready_pace_ms=5, controller_paused=False)
            assert f.result(timeout=30).result == pb.SUCCESS
            wait_for(lambda: c2.get("u-restart").phase == pb.READY, what="READY on the new worker")
            assert c2.update("u-restart", replicas=6, timeout=5).result == pb.SUCCESS
        finally:
            c2.close()
            w2.stop()
    finally:
        sim.knobs(ready_pace_ms=20, controller_paused=False)


def test_delete_while_updating_aborts_the_update(env):
    sim, w, c, _ = env
    pb = pb2()
    c.create("u-del", 1)
    sim.knobs(ready_pace_ms=300)
    try:
        f = c.update_future("u-del", replicas=9)
        wait_for(lambda: c.get("u-del").phase == pb.UPDATING, what="UPDATING")
        sim.knobs(controller_paused=True)     # the Delete meets an unfinished rollout
        d = c.delete_future("u-del")
        with pytest.raises(grpc.RpcError) as e:
            f.result(timeout=30)
        assert e.value.code() == grpc.StatusCode.ABORTED
        sim.knobs(ready_pace_ms=5, controller_paused=False)
        assert d.result(timeout=30).result == pb.SUCCESS
    finally:
        sim.knobs(ready_pace_ms=20, controller_paused=False)


def test_patch_refused_by_rbac_is_permission_denied(env):
    sim, w, c, _ = env
    c.create("u-rbac", 1)
    sim.knobs(deny=["patch deployments"])
    try:
        code, msg = code_of(c.update, "u-rbac", 2, timeout=10)
    finally:
        sim.knobs(deny=[])
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "patch" in msg and "deployments" in msg, msg
    assert c.update("u-rbac", 2).result == pb2().SUCCESS
