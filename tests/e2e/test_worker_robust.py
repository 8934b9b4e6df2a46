"""The worker under concurrency and faults: races, kill -9 and restart, two
workers on one namespace, kubesim's fault knobs, SIGTERM with waiting calls,
and the metrics page matching what the test did."""
import concurrent.futures
import re
import signal
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest

from cplane_fixture import (POOL, Client, code_of, deployments, free_port, outcome, pb2, sim,  # noqa: F401
                            start_worker)
from kubesim_fixture import start_kubesim


def test_create_create_race(sim, tmp_path):
    pb = pb2()
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: outcome(c.create, "race-cc", 20), range(8)))
        results = [r for k, r in got if k == "OK"]
        assert len(results) == 8, got
        assert pb.SUCCESS in results
        assert all(r in (pb.SUCCESS, pb.IN_PROGRESS) for r in results)
        assert len(deployments(sim)) == 1
    finally:
        c.close()
        w.stop()


def test_create_delete_and_delete_delete_races(sim, tmp_path):
    pb = pb2()
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        c.list()    # connected first: grpcio may reorder calls queued while its channel connects
        for i in range(5):
            name = "race-cd-%d" % i
            f = c.create_future(name, 30)
            time.sleep(0.01 * i)       # varies the interleaving from run to run, not a wait
            d1 = c.delete_future(name)
            d2 = c.delete_future(name)
            cr = outcome(f.result, timeout=30)
            r1, r2 = outcome(d1.result, timeout=30), outcome(d2.result, timeout=30)
            # the Create either finished first or was aborted by the Delete
            assert cr[0] in ("OK", "ABORTED"), cr
            oks = [x for x in (r1, r2) if x[0] == "OK"]
            # one Delete did it; the other saw DELETING (IN_PROGRESS), or nothing left (NOT_FOUND)
            assert any(x[1] == pb.SUCCESS for x in oks), (r1, r2)
            assert all(x[0] in ("OK", "NOT_FOUND") for x in (r1, r2)), (r1, r2)
            sim.wait_for(lambda: name not in deployments(sim), timeout=20, what="deployment gone")
        assert deployments(sim) == {}
        assert len(c.list().clusters) == 0
    finally:
        c.close()
        w.stop()


def test_200_concurrent_creates(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL)
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    pb = pb2()
    try:
        futs = [c.create_future("many-%03d" % i, 2, timeout=60) for i in range(200)]
        res = [f.result(timeout=90) for f in futs]
        assert all(r.result == pb.SUCCESS for r in res)
        names = [x.name for x in c.list().clusters]
        assert names == ["many-%03d" % i for i in range(200)]
        futs = [c.delete_future("many-%03d" % i, timeout=60) for i in range(200)]
        assert all(f.result(timeout=90).result == pb.SUCCESS for f in futs)
        assert deployments(sim) == {}
    finally:
        c.close()
        w.stop()
        sim.stop()


def test_kill9_during_create_and_restart(sim, tmp_path):
    pb = pb2()
    port = free_port()
    w = start_worker(sim, tmp_path, port=port)
    c = Client(w.target)
    f = c.create_future("phoenix", 40, timeout=60)
    sim.wait_for(lambda: "phoenix" in deployments(sim), timeout=10, what="deployment created")
    w.kill9()
    with pytest.raises(grpc.RpcError):
        f.result(timeout=10)
    c.close()
    w2 = start_worker(sim, tmp_path, port=port)
    c2 = Client(w2.target)
    try:
        r = c2.create("phoenix", 40, timeout=30)      # the client's retry
        assert r.result in (pb.SUCCESS, pb.IN_PROGRESS)
        if r.result == pb.IN_PROGRESS:
            ready = False
            for m in c2.watch("phoenix", timeout=30):      # WatchCluster lets it follow
                if m.phase == pb.READY:
                    ready = True
                    break
            assert ready
        # it is known again, exactly once, with its spec
        g = c2.get("phoenix")
        assert g.replicas == 40
        assert len(deployments(sim)) == 1
    finally:
        c2.close()
        w2.stop()


def test_kill9_during_delete_and_restart(sim, tmp_path):
    pb = pb2()
    port = free_port()
    w = start_worker(sim, tmp_path, port=port)
    c = Client(w.target)
    c.create("doomed", 30)
    sim.admin("pace", {"ms": 100})
    f = c.delete_future("doomed", timeout=60)
    sim.wait_for(lambda: deployments(sim).get("doomed", {}).get("metadata", {}).get("deletionTimestamp"),
                 timeout=10, what="deletion started")
    sim.knobs(controller_paused=True)     # still deleting while the worker restarts and the calls below run
    w.kill9()
    c.close()
    with pytest.raises(grpc.RpcError):
        f.result(timeout=10)
    w2 = start_worker(sim, tmp_path, port=port)
    c2 = Client(w2.target)
    try:
        g = c2.get("doomed")
        assert g.phase == pb.DELETING
        r = c2.delete("doomed", timeout=30)
        assert r.result == pb.IN_PROGRESS
        sim.knobs(controller_paused=False)
        sim.admin("pace", {"ms": 10})
        phases = [m.phase for m in c2.watch("doomed", timeout=30)]
        assert phases[-1] == pb.DELETED
        assert "doomed" not in deployments(sim)
    finally:
        sim.knobs(controller_paused=False)
        c2.close()
        w2.stop()


def test_two_workers_one_namespace(sim, tmp_path):
    pb = pb2()
    w1 = start_worker(sim, tmp_path)
    w2 = start_worker(sim, tmp_path)
    c1, c2 = Client(w1.target), Client(w2.target)
    try:
        f1 = c1.create_future("shared", 20, timeout=30)
        f2 = c2.create_future("shared", 20, timeout=30)
        r1, r2 = f1.result(timeout=30), f2.result(timeout=30)
        assert pb.SUCCESS in (r1.result, r2.result)
        assert {r1.result, r2.result} <= {pb.SUCCESS, pb.IN_PROGRESS}
        assert len(deployments(sim)) == 1
        # each worker sees what the other did
        assert c2.get("shared").phase == pb.READY
        code, _ = code_of(c2.create, "shared", 21)
        assert code == grpc.StatusCode.ALREADY_EXISTS
        assert c1.delete("shared").result == pb.SUCCESS
        sim.wait_for(lambda: outcome(c2.get, "shared")[0] == "NOT_FOUND", timeout=10, what="w2 saw it go")
        code, _ = code_of(c2.delete, "shared")
        assert code == grpc.StatusCode.NOT_FOUND
    finally:
        c1.close()
        c2.close()
        w1.stop()
        w2.stop()


@pytest.mark.parametrize("knobs", [
    {"watch_drop_after_s": 0.3},
    {"expire_every_s": 0.4},
    {"error_5xx_rate": 0.2},
    {"error_429_rate": 0.15, "retry_after_s": 0},
    {"split_writes": True},
], ids=["drops", "410", "5xx", "429", "split"])
def test_faults_during_a_batch(sim, tmp_path, knobs):
    """Every call ends with the right answer and nothing is left behind."""
    pb = pb2()
    w = start_worker(sim, tmp_path)
    c = Client(w.target)
    try:
        sim.admin("knobs", knobs)
        names = ["fault-%d" % i for i in range(12)]
        futs = [c.create_future(n, 3, timeout=60) for n in names]
        res = [outcome(f.result, timeout=90) for f in futs]
        # a 5xx that outlives the retries may end a Create UNAVAILABLE; the client retries as ours do
        for n, r in zip(names, res):
            if r[0] != "OK":
                assert r[0] == "UNAVAILABLE", r
                for _ in range(20):
                    r = outcome(c.create, n, 3, timeout=30)
                    if r[0] == "OK":
                        break
                    time.sleep(0.2)     # the client's retry backoff, as ours has
            assert r[0] == "OK", (n, r)
        for n in names:
            sim.wait_for(lambda n=n: outcome(c.get, n)[1] is None and c.get(n).phase == pb.READY,
                         timeout=30, what="%s ready" % n)
        futs = [c.delete_future(n, timeout=60) for n in names]
        for n, f in zip(names, futs):
            r = outcome(f.result, timeout=90)
            for _ in range(20):
                if r[0] == "OK" or r[0] == "NOT_FOUND":
                    break
                assert r[0] == "UNAVAILABLE", r
                time.sleep(0.2)         # the client's retry backoff
                r = outcome(c.delete, n, timeout=30)
            assert r[0] in ("OK", "NOT_FOUND"), (n, r)
        sim.admin("knobs", {k: False if isinstance(v, bool) else 0 for k, v in knobs.items()})
        sim.wait_for(lambda: deployments(sim) == {}, timeout=30, what="nothing left")
        sim.wait_for(lambda: len(c.list().clusters) == 0, timeout=30, what="worker's table empty")
    finally:
        c.close()
        w.stop()


def test_sigterm_with_waiting_calls(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--shutdown-grace", "1s", node_selector="cplane.dev/pool=nowhere")
    c = Client(w.target)
    f = c.create_future("stuck", 2, timeout=60)
    sim.wait_for(lambda: "stuck" in deployments(sim), timeout=10, what="created")
    t0 = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.RpcError) as e:
        f.result(timeout=20)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert w.proc.wait(20) == 0
    assert time.monotonic() - t0 < 10
    log = w.log()
    assert 'msg="Shutting down"' in log and "grace=1s" in log
    c.close()


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.read().decode()


def parse_metrics(text):
    """Prometheus text: every non-comment line is 'name{labels} value'; returns {(name, labels): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith("# HELP ") or line.startswith("# TYPE ") or not line, line
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        assert m, "bad metrics line: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_metrics_match_what_happened(sim, tmp_path):
    pb = pb2()
    w = start_worker(sim, tmp_path, metrics=True)
    c = Client(w.target)
    try:
        assert scrape(w.metrics_port, "/healthz")[0] == 200
        assert scrape(w.metrics_port, "/readyz")[0] == 200
        c.create("m-1", 2)
        c.create("m-2", 1)
        c.create("m-1", 2)
        code_of(c.get, "m-none")
        code_of(c.create, "BAD", 1)
        c.delete("m-2")
        # Events are creates too (Creating and Ready for each cluster, Deleting for m-2): wait until
        # the five are written, so the count of creates below is a settled fact
        deadline = time.monotonic() + 20
        while True:
            page = scrape(w.metrics_port)[1]
            m = parse_metrics(page)
            if m.get(("cplane_events_written_total", '{op="create"}')) == 5 or time.monotonic() > deadline:
                break
            time.sleep(0.05)    # polls inside a bounded wait for the counter
        assert m[("cplane_events_written_total", '{op="create"}')] == 5
        print(page)
        assert m[("cplane_grpc_calls_total", '{method="CreateCluster",code="OK"}')] == 3
        assert m[("cplane_grpc_calls_total", '{method="CreateCluster",code="INVALID_ARGUMENT"}')] == 1
        assert m[("cplane_grpc_calls_total", '{method="GetCluster",code="NOT_FOUND"}')] == 1
        assert m[("cplane_grpc_calls_total", '{method="DeleteCluster",code="OK"}')] == 1
        assert m[("cplane_grpc_call_duration_seconds_count", '{method="CreateCluster"}')] == 4
        assert m[("cplane_clusters", '{phase="READY"}')] == 1
        assert m[("cplane_k8s_requests_total", '{verb="create",code="201"}')] == 2 + 5   # Deployments + Events
        assert m[("process_resident_memory_bytes", "")] > 0
        assert m[("process_start_time_seconds", "")] > 1.6e9
        assert ("cplane_watch_restarts_total", "") in m and ("cplane_relists_total", "") in m
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(w.metrics_port, "/nope")
        assert e.value.code == 404
    finally:
        c.close()
        w.stop()


def test_calls_before_the_first_sync_wait_for_it(tmp_path):
    """A slow API server: calls made before the first list completes wait for it, then proceed."""
    pb = pb2()
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL, "--delay-ms", "1500")
    w = start_worker(sim, tmp_path, wait_synced=False)
    c = Client(w.target)
    try:
        t0 = time.monotonic()
        code, msg = code_of(c.get, "early", timeout=20)
        assert code == grpc.StatusCode.NOT_FOUND       # answered from the synced table, not UNAVAILABLE
        assert time.monotonic() - t0 >= 0.5             # it did wait for the list
        assert c.create("early", 1, timeout=30).result == pb.SUCCESS
    finally:
        c.close()
        w.stop()
        sim.stop()
