"""Soak: 200 alternating scale 3 <-> 5 UpdateCluster calls against one worker
(kubesim with instant readiness); the worker's RSS and open fds stay flat.

The API client keeps up to 4 pooled connections (k8s/client.h) besides the
informer's watch, and opens another whenever requests overlap (an Event written
while a PATCH is in flight), so its sockets to the API server are bounded, not
constant: 2 or 3 here.  Every other descriptor (listeners, pipes, files) must
stay exactly as it was."""
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


API_POOL = 4          # k8s_client_opts.max_conns default
API_WATCHES = 1       # the informer's watch


def socket_peer_ports(pid):
    """inode -> remote port of every TCP socket the process has."""
    ports = {}
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    col = line.split()
                    ports[col[9]] = int(col[2].rsplit(":", 1)[1], 16)
        except FileNotFoundError:
            pass
    return ports


def fds(pid, api_port):
    """(descriptors that are not sockets to the API server, sorted by kind; sockets to it)."""
    peers = socket_peer_ports(pid)
    other, api = [], 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except FileNotFoundError:
            continue              # closed while we looked
        if target.startswith("socket:[") and peers.get(target[8:-1]) == api_port:
            api += 1
        else:
            other.append(target.split(":")[0] if ":" in target else target)
    return sorted(other), api


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
                samples.append((rss_kib(pid), fds(pid, sim.port)))
        (rss0, (other0, api0)), (rss1, (other1, api1)) = samples
        assert other1 == other0, (other0, other1)
        assert 1 <= api0 <= API_POOL + API_WATCHES and 1 <= api1 <= API_POOL + API_WATCHES, (api0, api1)
        # A leak of even 1 KiB an update would add ~180 KiB here.
        assert rss1 - rss0 <= 128, (rss0, rss1)
        g = c.get("soak")
        assert g.phase == pb.READY and g.replicas == (5 if N % 2 else 3)
        assert w.log().count('msg="Updated cluster" name=soak') == N
    finally:
        c.close()
        w.stop()
        sim.stop()
