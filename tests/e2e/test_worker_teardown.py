"""The worker stops cleanly with Kubernetes requests still in flight: exit 0,
and under CPLANE_BIN=build/test/cplane (ASan) nothing leaked.

Found by SIGTERM during a Create/Delete storm: a DELETE still waiting for the
API server at exit leaked its contexts (the client cancels what is left
without calling back, and nobody else freed them)."""
from cplane_fixture import K8S, Client, sim, start_worker  # noqa: F401
from kubesim_fixture import start_kubesim


def test_sigterm_with_post_delete_and_diagnosis_in_flight(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "10", "--node", "other=pool")
    w = start_worker(sim, tmp_path, "--shutdown-grace", "1s", "--create-timeout", "2s", metrics=True)
    c = Client(w.target)
    try:
        c.list()
        # unschedulable (no node in the pool): "stuck" times out into a diagnosis (pods LIST)
        stuck = c.create_future("stuck", 1, timeout=30)
        gone = c.create_future("gone", 1, timeout=30)
        w.wait_metric(K8S("create", 201), 2)           # both made
        sim.knobs(delay_ms=8000)            # every request from now on waits 8 s for its answer
        arrived = sim.stat("requests")
        futs = [c.create_future("held-%d" % i, 1, timeout=30) for i in range(3)]
        futs += [c.delete_future("gone", timeout=30), gone]
        # the 3 POSTs, the DELETE and the pods LIST (at the 2 s create timeout) are out, unanswered
        sim.wait_stat("requests", arrived + 5)
        assert w.stop() == 0
        log = w.log()
        assert "LeakSanitizer" not in log and "AddressSanitizer" not in log, log[-4000:]
        for f in futs + [stuck]:
            f.exception(timeout=10)         # every call got an answer (UNAVAILABLE and the like)
    finally:
        c.close()
        w.kill9()
        sim.stop()


def test_shutdown_grace_defaults_to_20s(sim, tmp_path):
    """DESIGN.md: 20 s, under Kubernetes' default 30 s termination grace."""
    w = start_worker(sim, tmp_path)
    assert w.stop() == 0
    assert 'msg="Shutting down" signal=SIGTERM grace=20s' in w.log(), w.log()[-2000:]
