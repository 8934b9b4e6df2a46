"""Kubernetes Events on the clusters' Deployments, as kubectl describe shows
them: Creating, Ready and Deleting (Normal), Failed (Warning) with the
diagnosis; repeats bump count instead of adding objects; a refused Event
write never fails the call."""
import concurrent.futures

import grpc
import pytest

from cplane_fixture import POOL, Client, code_of, start_worker, wait_until
from kubesim_fixture import start_kubesim

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


def events(sim, name=None):
    code, obj = sim.api("GET", "/api/v1/namespaces/%s/events" % sim.namespace)
    assert code == 200
    return [e for e in obj["items"] if name is None or e["involvedObject"]["name"] == name]


def by_reason(evs):
    out = {}
    for e in evs:
        out.setdefault(e["reason"], []).append(e)
    return out


@pytest.fixture
def env(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "10", "--node", POOL)
    ok = start_worker(sim, tmp_path, "--create-timeout", "20s", metrics=True)
    yield sim, ok
    ok.stop()
    sim.stop()


def test_the_story_of_a_cluster(env, tmp_path):
    sim, ok = env
    # Unschedulable pods; the API's progress deadline far off, so every failure is a timeout with the diagnosis.
    bad = start_worker(sim, tmp_path, "--create-timeout", "10m", metrics=True,
                       node_selector="cplane.dev/pool=nowhere")
    c, cb = Client(ok.target), Client(bad.target)
    try:
        c.create("ev-a", 2)
        code, dep = sim.api("GET", NS_DEPLOY % sim.namespace + "/ev-a")
        uid = dep["metadata"]["uid"]
        c.delete("ev-a")
        code, msg = code_of(cb.create, "ev-b", 1, timeout=1.5)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED

        evs = wait_until(lambda: (lambda r: r if {"Creating", "Ready", "Deleting"} <= set(r) else None)(
            by_reason(events(sim, "ev-a"))), 20, "ev-a's three events")
        for reason in ("Creating", "Ready", "Deleting"):
            assert len(evs[reason]) == 1, evs[reason]
            e = evs[reason][0]
            assert e["type"] == "Normal"
            assert e["count"] == 1
            assert e["involvedObject"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ev-a",
                                           "namespace": sim.namespace, "uid": uid}
            assert e["source"] == {"component": "cplane.dev/worker"}
            assert e["reportingComponent"] == "cplane.dev/worker"
            assert e["firstTimestamp"] == e["lastTimestamp"] and e["lastTimestamp"].endswith("Z")
            assert e["metadata"]["name"].startswith("ev-a.")
        assert "2 replicas" in evs["Creating"][0]["message"]
        assert evs["Ready"][0]["message"] == "cluster ev-a ready: 2/2 replicas available"
        assert evs["Deleting"][0]["message"] == "deleting cluster ev-a"

        evb = wait_until(lambda: (lambda r: r if "Failed" in r else None)(by_reason(events(sim, "ev-b"))), 20,
                         "ev-b's Failed event")
        assert set(evb) == {"Creating", "Failed"}
        failed = evb["Failed"][0]
        assert failed["type"] == "Warning"
        diagnosis = msg.split(": ", 1)[1]                     # what the caller got, past "not ready after Ns"
        assert failed["message"] == "cluster ev-b not ready: " + diagnosis
        assert "didn't match Pod's node affinity/selector" in failed["message"]

    finally:
        c.close()
        cb.close()
        bad.stop()


FAILED_STATUS = {"availableReplicas": 0, "readyReplicas": 0, "conditions": [
    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
     "message": "Deployment does not have minimum availability."},
    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
     "message": 'ReplicaSet "ev-c-1" has timed out progressing.'}]}
READY_STATUS = {"availableReplicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "conditions": [
    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
     "message": "Deployment has minimum availability."},
    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
     "message": 'ReplicaSet "ev-c-1" has successfully progressed.'}]}


def test_fifty_failures_one_event(env):
    """The Deployment turns FAILED 50 times (no call waiting): one Warning Event, count 50."""
    sim, ok = env
    c = Client(ok.target)
    try:
        c.create("ev-c", 1)
        for i in range(1, 51):
            sim.admin("patch", {"name": "ev-c", "patch": {"status": FAILED_STATUS}})
            wait_until(lambda: (lambda f: f and f[0]["count"] >= i)(by_reason(events(sim, "ev-c")).get("Failed")),
                       20, "Failed event count %d" % i)
            sim.admin("patch", {"name": "ev-c", "patch": {"status": READY_STATUS}})
            wait_until(lambda: c.get("ev-c").phase == c.pb.READY, 20, "ev-c READY again")
        failed = by_reason(events(sim, "ev-c"))["Failed"]
        assert len(failed) == 1
        e = failed[0]
        assert e["count"] == 50 and e["type"] == "Warning"
        assert e["message"] == 'cluster ev-c failed: ReplicaSet "ev-c-1" has timed out progressing.; 0/1 available'
        assert e["lastTimestamp"] >= e["firstTimestamp"]
        assert ok.metric('cplane_events_written_total{op="create"}') == 3    # Creating, Ready, Failed
        assert ok.metric("cplane_events_dropped_total") == 0
    finally:
        c.close()


def test_refused_event_writes_never_fail_a_call(env):
    sim, ok = env
    sim.knobs(deny=["create events", "patch events"])
    c = Client(ok.target)
    try:
        assert c.create("ev-denied", 1).cluster.name == "ev-denied"
        c.delete("ev-denied")
    finally:
        c.close()
    ok.wait_metric("cplane_events_failed_total", 3)           # Creating, Ready, Deleting: each refused
    assert events(sim, "ev-denied") == []
    assert "Cannot record an Event" in ok.log()


def test_update_records_updating_then_ready(env):
    sim, ok = env
    c = Client(ok.target)
    pb = c.pb
    try:
        c.create("ev-u", 1)
        update = c.channel.unary_unary("/cplane.v1.ClusterService/UpdateCluster",
                                       request_serializer=pb.UpdateClusterRequest.SerializeToString,
                                       response_deserializer=pb.UpdateClusterResponse.FromString)
        r = update(pb.UpdateClusterRequest(name="ev-u", replicas=3), timeout=30)
        assert r.result == pb.SUCCESS
        evs = wait_until(lambda: (lambda r: r if "Updating" in r and len(r.get("Ready", [])) == 2 else None)(
            by_reason(events(sim, "ev-u"))), 20, "Updating and a second Ready")
        assert evs["Updating"][0]["message"] == "updating cluster ev-u: 3 replicas of registry.k8s.io/pause:3.9"
        assert evs["Updating"][0]["type"] == "Normal"
        assert sorted(e["message"] for e in evs["Ready"]) == [
            "cluster ev-u ready: 1/1 replicas available",
            "cluster ev-u ready: 3/3 replicas available, image registry.k8s.io/pause:3.9"]
    finally:
        c.close()
