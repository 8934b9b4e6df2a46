"""Soak: 200 alternating scale 3 <-> 5 UpdateCluster calls against one worker
(kubesim with instant readiness); the worker's RSS and open fds stay flat."""
import os

from cplane_fixture import POOL, pb2, start_worker
from kubesim_fixture import start_kubesim
from test_worker_update import UClient

N = int(os.environ.get("SOAK_UPDATES", 200))
WARMUP = 20


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_200_alternating_scales_keep_rss_and_fds_flat(tmp_path):
    sim = start_kubesim(tmp_path / "sim", "--instant", "--node", POOL)
    w = start_worker(sim, tmp_path, "--create-timeout", "30s")
    c = UClient(w.target)
    pb = pb2()
    try:
        assert c.create("soak", 3).result == pb.SUCCESS
        pid = w.proc.pid
        samples = []
        for i in range(N):
            want = 5 if i % 2 == 0 else 3
            r = c.update("soak", replicas=want, timeout=30)
            assert r.result == pb.SUCCESS and r.cluster.replicas == want and r.cluster.ready_replicas == want
            if i + 1 == WARMUP or i + 1 == N:
                samples.append((rss_kib(pid), fds(pid)))
        (rss0, fd0), (rss1, fd1) = samples
        assert fd1 == fd0, (fd0, fd1)
        # A leak of even 1 KiB an update would add ~180 KiB here.
        assert rss1 - rss0 <= 128, (rss0, rss1)
        g = c.get("soak")
        assert g.phase == pb.READY and g.replicas == (5 if N % 2 else 3)
        assert w.log().count('msg="Updated cluster" name=soak') == N
    finally:
        c.close()
        w.stop()
        sim.stop()
