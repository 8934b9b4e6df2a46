"""The worker when its informer misses part of a Deployment's life, and when a
Delete overtakes the POST of the Create it follows.

Found by a Create/Delete storm under every kubesim fault at once: names ended
CREATING for good (Creates answered IN_PROGRESS forever, Deletes timed out)
while the API server had no such Deployment."""
import grpc
import pytest

from cplane_fixture import K8S, POOL, Client, code_of, deployments, outcome, pb2, phase_of, sim, start_worker  # noqa: F401
from kubesim_fixture import start_kubesim


def cut_watch(sim):
    """The worker's watch is cut and refused (403) from now on: no event reaches it."""
    sim.knobs(deny=["watch deployments"])
    sim.admin("drop-watches", {})
    sim.wait_for(lambda: sim.stat("active_watches") == 0, timeout=10, what="no watch open")


def made_and_removed_unseen(sim, w, c, name):
    """A Create whose Deployment the worker's informer never sees: its watch is
    cut and refused (403) while the POST lands, and the Deployment is removed
    behind the worker's back. Returns the Create's future."""
    cut_watch(sim)
    made = w.metric(K8S("create", 201))
    f = c.create_future(name, 2, timeout=30)
    w.wait_metric(K8S("create", 201), made + 1)        # the POST's answer reached the worker
    sim.admin("delete", {"name": name})
    assert name not in sorted(deployments(sim))
    return f


def test_deployment_gone_before_the_informer_saw_it(sim, tmp_path):
    """The relist after a 410 does not contain it: the Create ends ABORTED and
    the name is free again (it used to stay CREATING for good)."""
    pb = pb2()
    w = start_worker(sim, tmp_path, metrics=True)
    c = Client(w.target)
    try:
        c.list()
        f = made_and_removed_unseen(sim, w, c, "gap")
        sim.admin("compact", {"kill_watches": True})     # the informer's next watch gets 410: relist
        sim.knobs(deny=[])
        code, details = outcome(f.result, timeout=40)
        assert code == "ABORTED", (code, details)
        assert "deleted" in details
        assert code_of(c.get, "gap")[0] == grpc.StatusCode.NOT_FOUND
        assert [x.name for x in c.list().clusters] == []
        # the name is usable again
        assert c.create("gap", 1, timeout=30).result == pb.SUCCESS
        assert c.delete("gap", timeout=30).result == pb.SUCCESS
        assert sorted(deployments(sim)) == []
    finally:
        c.close()
        assert w.stop() == 0


def test_delete_answered_404_after_the_create_was_answered(sim, tmp_path):
    """No relist: the worker still believes in its Create, and a Delete is
    answered 404 by the API server. That is authoritative (the DELETE left
    after the POST's answer): the Delete succeeds, the Create is aborted."""
    pb = pb2()
    w = start_worker(sim, tmp_path, "--delete-timeout", "8s", metrics=True)
    c = Client(w.target)
    try:
        c.list()
        f = made_and_removed_unseen(sim, w, c, "gap-del")
        assert c.get("gap-del").phase == pb.CREATING
        r = outcome(c.delete, "gap-del", timeout=20)
        assert r == ("OK", pb.SUCCESS), r
        assert outcome(f.result, timeout=20)[0] == "ABORTED"
        assert code_of(c.get, "gap-del")[0] == grpc.StatusCode.NOT_FOUND
        assert [x.name for x in c.list().clusters] == []
        sim.knobs(deny=[])
    finally:
        c.close()
        assert w.stop() == 0


def test_delete_while_the_create_post_is_in_flight(sim, tmp_path):
    """The POST is held back (429 + Retry-After) when the Delete arrives. The
    Delete is accepted (the waiting Create ends ABORTED, Get says DELETING),
    its DELETE goes out once the POST is answered, and it returns once the
    Deployment is gone. It used to race the POST: DELETE 404 first, then the
    Deployment appeared, the Create succeeded and the Delete timed out."""
    pb = pb2()
    w = start_worker(sim, tmp_path, "--delete-timeout", "15s", metrics=True)
    c = Client(w.target)
    try:
        c.list()
        sim.knobs(error_429_rate=1.0, retry_after_s=2, faults_on_watch=False)
        f = c.create_future("racing", 2, timeout=30)
        w.wait_metric(K8S("create", 429), 1)           # the POST got its 429 and waits
        sim.knobs(error_429_rate=0.0)
        d = c.delete_future("racing", timeout=30)
        assert outcome(f.result, timeout=30)[0] == "ABORTED"
        assert c.get("racing").phase == pb.DELETING
        r = outcome(d.result, timeout=30)
        assert r == ("OK", pb.SUCCESS), r
        assert sorted(deployments(sim)) == []
        assert code_of(c.get, "racing")[0] == grpc.StatusCode.NOT_FOUND
    finally:
        c.close()
        assert w.stop() == 0


def test_deployment_replaced_while_the_watch_was_down(sim, tmp_path):
    """Our Delete went through, and the name was created again elsewhere, all
    while the informer's watch was down: the relist shows a Deployment with
    another uid. The one we deleted is gone (the Delete succeeds) and the new
    one is READY, not DELETING (the entry used to stay DELETING for good)."""
    pb = pb2()
    w = start_worker(sim, tmp_path, "--delete-timeout", "20s")
    c = Client(w.target)
    try:
        assert c.create("again", 1, timeout=30).result == pb.SUCCESS
        cut_watch(sim)
        d = c.delete_future("again", timeout=30)
        sim.wait_for(lambda: "again" not in sorted(deployments(sim)), timeout=10, what="deleted")
        code, _ = sim.deployment("again", 1, node_selector=dict([POOL.split("=")]))
        assert code == 201
        sim.admin("compact", {"kill_watches": True})
        sim.knobs(deny=[])
        r = outcome(d.result, timeout=30)
        assert r == ("OK", pb.SUCCESS), r
        sim.wait_for(lambda: c.get("again").phase == pb.READY, timeout=20, what="the new one READY")
        assert c.delete("again", timeout=30).result == pb.SUCCESS
        assert sorted(deployments(sim)) == []
    finally:
        c.close()
        assert w.stop() == 0


def test_unseen_deployment_deleted_and_replaced(sim, tmp_path):
    """Our Create's Deployment is never seen (watch down); our Delete removes
    it, and another one takes the name before the relist. The relist shows a
    Deployment without deletionTimestamp, which the one we deleted carried
    until it was gone: the Delete succeeds and the new one is READY (the entry
    used to stay DELETING for good)."""
    pb = pb2()
    w = start_worker(sim, tmp_path, "--delete-timeout", "20s", metrics=True)
    c = Client(w.target)
    try:
        c.list()
        cut_watch(sim)
        f = c.create_future("swap", 1, timeout=30)
        w.wait_metric(K8S("create", 201), 1)           # the POST's answer reached the worker
        d = c.delete_future("swap", timeout=30)
        assert outcome(f.result, timeout=10)[0] == "ABORTED"
        sim.wait_for(lambda: "swap" not in sorted(deployments(sim)), timeout=10, what="deleted")
        code, _ = sim.deployment("swap", 1, node_selector=dict([POOL.split("=")]))
        assert code == 201
        sim.admin("compact", {"kill_watches": True})
        sim.knobs(deny=[])
        r = outcome(d.result, timeout=30)
        assert r == ("OK", pb.SUCCESS), r
        sim.wait_for(lambda: c.get("swap").phase == pb.READY, timeout=20, what="the new one READY")
        assert c.delete("swap", timeout=30).result == pb.SUCCESS
        assert sorted(deployments(sim)) == []
    finally:
        c.close()
        assert w.stop() == 0


def test_delete_waiting_on_an_unanswered_post_still_deletes(tmp_path):
    """The Create's POST took effect but its answer was lost, with a Delete waiting for that
    answer: nothing may be left behind.  (The client re-sends the POST on the pooled
    connection that closed unanswered and gets 409; the branch for a POST with no answer
    at all — a timeout — is not reached here.)"""
    pb = pb2()
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL)
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        sim.admin("knobs", {"drop_after_create": 1, "delay_ms": 400})
        f = c.create_future("lost-answer", 2, timeout=30)
        # accepted, so its POST is on its way (kubesim holds every answer 400 ms)
        sim.wait_for(lambda: phase_of(c, "lost-answer") == pb.CREATING, timeout=10, what="the Create accepted")
        d = c.delete_future("lost-answer", timeout=30)
        with pytest.raises(grpc.RpcError) as e:
            f.result(timeout=30)
        assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)
        assert d.result(timeout=30).result == pb.SUCCESS
        sim.admin("knobs", {"delay_ms": 0})
        assert sim.admin("stats").get("dropped_after_create") == 1
        sim.wait_for(lambda: sim.api("GET", "/apis/apps/v1/namespaces/%s/deployments/lost-answer"
                                     % sim.namespace)[0] == 404, timeout=20, what="nothing left behind")
    finally:
        c.close()
        w.stop()
        sim.stop()
