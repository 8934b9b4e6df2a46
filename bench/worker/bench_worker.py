"""make bench-worker: the worker (build/cplane) against kubesim, measured from outside.

(a) memory: VmRSS after the first sync with no clusters; with 10,000 clusters
    known (bulk-created managed Deployments, a fresh worker lists them), and
    with 100,000 (RSS, bytes per cluster, the worker's CPU to list them:
    "memory100k"); the RSS added per Create waiting on an unschedulable cluster.
(b) 1,000 concurrent Creates against kubesim with instant readiness: wall time
    and the worker's CPU seconds.
(d) 10,000 clusters carrying a typical spec (5 env vars, 2 ports, 3 labels,
    resources): a fresh worker's RSS once listed ("spec").
(e) 200 concurrent UpdateCluster calls scaling 3 -> 5 with instant readiness:
    wall time and the worker's CPU per update ("updates").
(c) latency from the watch event that makes a Deployment available to the
    Create's answer, both as they cross the loopback device: a passive packet
    capture (AF_PACKET, kernel timestamps) of the worker's API connection and
    its gRPC connection, one Create at a time; the worker is not instrumented.

Prints key=value lines.  Loopback only; about a minute on two cores.
"""

import http.client
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
sys.path.insert(0, HERE)

import grpc  # noqa: E402
from cplane_fixture import Client, POOL, authorized, pb2, start_worker  # noqa: E402
from kubesim_fixture import start_kubesim  # noqa: E402

CLK_TCK = os.sysconf('SC_CLK_TCK')
MANAGED = {'app.kubernetes.io/managed-by': 'cplane'}
N_BULK = int(os.environ.get('BENCH_CLUSTERS', 10000))
N_WAIT = int(os.environ.get('BENCH_WAITING', 2000))
N_CONC = int(os.environ.get('BENCH_CONCURRENT', 1000))
N_LAT = int(os.environ.get('BENCH_LATENCY', 500))
N_UPD = int(os.environ.get('BENCH_UPDATES', 200))

# A typical spec (issue 15): 5 env vars, 2 ports, 3 labels, resources.
TYPICAL_CONTAINER = {
    'env': [{'name': 'LOG_LEVEL', 'value': 'info'}, {'name': 'MODE', 'value': 'peer'},
            {'name': 'DATA_DIR', 'value': '/var/lib/app'}, {'name': 'PEERS', 'value': '{name}-0,{name}-1,{name}-2'},
            {'name': 'GOMAXPROCS', 'value': '2'}],
    'ports': [{'name': 'http', 'containerPort': 8080, 'protocol': 'TCP'},
              {'name': 'peer', 'containerPort': 7000, 'protocol': 'TCP'}],
    'resources': {'requests': {'cpu': '500m', 'memory': '512Mi'}, 'limits': {'cpu': '1', 'memory': '1Gi'}},
}
TYPICAL_POD_LABELS = {'team': 'data', 'tier': 'backend', 'example.com/env': 'prod'}


def out(key, value):
    if isinstance(value, float):
        value = '%.3f' % value if abs(value) < 100 else '%.0f' % value
    print('%s=%s' % (key, value), flush=True)


def proc_status(pid):
    st = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            st[k] = v.strip()
    return st


def rss_kib(pid, field='VmRSS'):
    return int(proc_status(pid)[field].split()[0])


def schedstat(pid):
    """(ns on a CPU, ns waiting on a run queue, time slices) of every thread of pid, summed."""
    tot = [0, 0, 0]
    for tid in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
            for i, v in enumerate(f.read().split()[:3]):
                tot[i] += int(v)
    return tot


def loadavg():
    with open('/proc/loadavg') as f:
        return f.read().split()[0]


def cpu_s(pid):
    """utime + stime of every thread, seconds."""
    total = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def metrics(w):
    c = http.client.HTTPConnection('127.0.0.1', w.metrics_port, timeout=10)
    try:
        c.request('GET', '/metrics')
        text = c.getresponse().read().decode()
    finally:
        c.close()
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            k, _, v = line.rpartition(' ')
            vals[k] = float(v)
    return vals


def clusters_known(w):
    return int(sum(v for k, v in metrics(w).items() if k.startswith('cplane_clusters{')))


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError('timed out waiting for ' + what)
        time.sleep(0.05)


def settle(pid, quiet_s=0.3, timeout=10):
    """Waits until the process used no CPU for quiet_s (its work from the last step is done)."""
    end = time.monotonic() + timeout
    last = cpu_s(pid)
    while time.monotonic() < end:
        time.sleep(quiet_s)
        now = cpu_s(pid)
        if now == last:
            return
        last = now


def channels(target, n):
    """n grpcio channels that do not share a connection (one h2 connection carries at most 1,000 streams)."""
    pb = pb2()
    chans, creates, watches = [], [], []
    for i in range(n):
        # each call carries the bearer token kubesim grants (auth is on, as in production)
        ch = authorized(grpc.insecure_channel(target, options=[('grpc.use_local_subchannel_pool', 1),
                                                               ('cplane.bench.channel', i)]), target)
        chans.append(ch)
        creates.append(ch.unary_unary('/cplane.v1.ClusterService/CreateCluster',
                                      request_serializer=pb.CreateClusterRequest.SerializeToString,
                                      response_deserializer=pb.CreateClusterResponse.FromString))
        watches.append(ch.unary_stream('/cplane.v1.ClusterService/WatchCluster',
                                       request_serializer=pb.WatchClusterRequest.SerializeToString,
                                       response_deserializer=pb.Cluster.FromString))
    # Connect each one (a NOT_FOUND Get) so the per-connection cost is paid before the calls are counted.
    for ch in chans:
        get = ch.unary_unary('/cplane.v1.ClusterService/GetCluster',
                             request_serializer=pb.GetClusterRequest.SerializeToString,
                             response_deserializer=pb.Cluster.FromString)
        try:
            get(pb.GetClusterRequest(name='no-such-cluster'), timeout=10)
        except grpc.RpcError:
            pass
    return chans, creates, watches


# ------------------------------------------------------------------ (a) memory

def bench_memory(tmp):
    sim = start_kubesim(os.path.join(tmp, 'ks-mem'), '--instant', '--node', POOL)
    workers = []
    try:
        w = start_worker(sim, tmp, metrics=True)
        workers.append(w)
        settle(w.proc.pid)
        st = proc_status(w.proc.pid)
        out('idle_rss_kib', int(st['VmRSS'].split()[0]))
        IDLE_RSS_KIB.append(int(st['VmRSS'].split()[0]))
        out('idle_rss_anon_kib', int(st['RssAnon'].split()[0]))
        out('idle_rss_file_kib', int(st['RssFile'].split()[0]))

        t = time.monotonic()
        r = sim.admin('bulk-create', {'prefix': 'bench', 'count': N_BULK, 'replicas': 0, 'labels': MANAGED})
        assert r['created'] == N_BULK, r
        bulk_s = time.monotonic() - t
        # The running worker hears them as ADDED events on its watch.
        wait_until(lambda: clusters_known(w) >= N_BULK, 120, 'the watch to deliver %d clusters' % N_BULK)
        settle(w.proc.pid)
        out('rss_10k_via_watch_kib', rss_kib(w.proc.pid))

        # A fresh worker lists them (pages of 500) before it serves.
        t = time.monotonic()
        w2 = start_worker(sim, tmp, metrics=True)
        workers.append(w2)
        wait_until(lambda: clusters_known(w2) >= N_BULK, 120, 'a fresh worker to list %d clusters' % N_BULK)
        sync_s = time.monotonic() - t
        settle(w2.proc.pid)
        out('hwm_10k_before_list_kib', rss_kib(w2.proc.pid, 'VmHWM'))
        n = len(Client(w2.target).list(timeout=30).clusters)
        assert n == N_BULK, n
        settle(w2.proc.pid)
        st = proc_status(w2.proc.pid)
        out('clusters', n)
        out('rss_10k_kib', int(st['VmRSS'].split()[0]))
        idle = IDLE_RSS_KIB[0] if IDLE_RSS_KIB else 0
        out('rss_bytes_per_cluster_10k', int((int(st['VmRSS'].split()[0]) - idle) * 1024 / n))
        out('rss_10k_anon_kib', int(st['RssAnon'].split()[0]))
        out('hwm_10k_kib', int(st['VmHWM'].split()[0]))
        out('startup_to_10k_listed_s', sync_s)
        out('kubesim_bulk_create_s', bulk_s)
    finally:
        for w in workers:
            w.kill9()
        sim.stop()


def bench_memory_100k(tmp):
    """Issue 19: 100,000 clusters listed by a fresh worker: RSS once listed, bytes per cluster over
    the idle RSS, and the worker's CPU from exec to the last one known (start-up listing)."""
    n_big = int(os.environ.get('BENCH_CLUSTERS_BIG', 100000))
    sim = start_kubesim(os.path.join(tmp, 'ks-100k'), '--instant', '--node', POOL)
    w = None
    try:
        done = 0
        while done < n_big:  # in slices, so kubesim answers each admin call promptly
            k = min(2500, n_big - done)
            r = sim.admin('bulk-create', {'prefix': 'big%d-' % (done // 2500), 'count': k, 'replicas': 0,
                                          'labels': MANAGED})
            assert r['created'] == k, r
            done += k
        # kubesim (Python) takes longer to serve the pages than the worker to read them: no
        # SERVING wait here, the listing is waited for through the metrics.
        w = start_worker(sim, tmp, metrics=True, wait_synced=False)
        wait_until(lambda: clusters_known(w) >= n_big, 600, 'a fresh worker to list %d clusters' % n_big)
        cpu = cpu_s(w.proc.pid)
        settle(w.proc.pid)
        st = proc_status(w.proc.pid)
        rss = int(st['VmRSS'].split()[0])
        out('clusters_big', n_big)
        out('rss_100k_kib' if n_big == 100000 else 'rss_%d_kib' % n_big, rss)
        out('hwm_100k_kib' if n_big == 100000 else 'hwm_%d_kib' % n_big, int(st['VmHWM'].split()[0]))
        out('startup_list_100k_cpu_s' if n_big == 100000 else 'startup_list_%d_cpu_s' % n_big, '%.3f' % cpu)
        if IDLE_RSS_KIB:  # measured by the 'memory' part
            out('rss_bytes_per_cluster_100k', int((rss - IDLE_RSS_KIB[0]) * 1024 / n_big))
    finally:
        if w:
            w.kill9()
        sim.stop()


IDLE_RSS_KIB = []


def bench_idle_connections(tmp, n=1000):
    """Issue 18: RSS with n idle HTTP/2 connections open (handshake done, no call), all kept
    (no per-address limit: they all come from loopback)."""
    import resource
    import socket
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 600), hard))
    sim = start_kubesim(os.path.join(tmp, 'ks-idle'), '--instant', '--node', POOL)
    w = start_worker(sim, tmp, '--max-connections-per-peer', '0', metrics=True)
    socks = []
    try:
        settle(w.proc.pid)
        rss0 = rss_kib(w.proc.pid)
        hello = (b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\x00\x00\x00\x04\x00\x00\x00\x00\x00'
                 + b'\x00\x00\x00\x04\x01\x00\x00\x00\x00')
        for _ in range(n):
            s = socket.create_connection(('127.0.0.1', w.port), timeout=10)
            s.sendall(hello)
            socks.append(s)
        wait_until(lambda: (metrics(w).get('cplane_grpc_connections') or 0) >= n, 60, '%d connections held' % n)
        settle(w.proc.pid)
        rss1 = rss_kib(w.proc.pid)
        out('rss_%d_idle_conns_kib' % n, rss1)
        out('bytes_per_idle_connection', int((rss1 - rss0) * 1024 / n))
    finally:
        for s in socks:
            s.close()
        w.kill9()
        sim.stop()


def bench_spec_memory(tmp):
    """10,000 clusters whose Deployments carry a typical spec, listed by a fresh worker.  The specs
    differ (an env value names the cluster), so nothing could be shared between them."""
    sim = start_kubesim(os.path.join(tmp, 'ks-spec'), '--instant', '--node', POOL)
    w = None
    try:
        r = sim.admin('bulk-create', {'prefix': 'spec', 'count': N_BULK, 'replicas': 0, 'labels': MANAGED,
                                      'container': TYPICAL_CONTAINER, 'pod_labels': TYPICAL_POD_LABELS,
                                      'annotations': {'cplane.dev/spec-hash': '0123456789abcdef'}})
        assert r['created'] == N_BULK, r
        w = start_worker(sim, tmp, metrics=True)
        wait_until(lambda: clusters_known(w) >= N_BULK, 120, 'a fresh worker to list %d clusters' % N_BULK)
        c = Client(w.target)
        got = c.get('spec-00042', timeout=30)
        assert len(got.env) == 5 and len(got.ports) == 2 and len(got.labels) == 3, got
        c.close()
        settle(w.proc.pid)
        st = proc_status(w.proc.pid)
        out('rss_10k_typical_spec_kib', int(st['VmRSS'].split()[0]))
        out('rss_10k_typical_spec_anon_kib', int(st['RssAnon'].split()[0]))
        out('hwm_10k_typical_spec_kib', int(st['VmHWM'].split()[0]))
    finally:
        if w:
            w.kill9()
        sim.stop()


def bench_updates(tmp):
    """N_UPD clusters of 3 scaled to 5 by concurrent UpdateCluster calls, kubesim with instant readiness."""
    sim = start_kubesim(os.path.join(tmp, 'ks-upd'), '--instant', '--node', POOL)
    w = None
    try:
        w = start_worker(sim, tmp, metrics=True)
        pid = w.proc.pid
        pb = pb2()
        nch = max(1, (N_UPD + 499) // 500)
        chans, creates, _ = channels(w.target, nch)
        futs = [creates[i % nch].future(pb.CreateClusterRequest(name='upd-%04d' % i, replicas=3), timeout=300)
                for i in range(N_UPD)]
        for f in futs:
            assert f.result().result == pb.SUCCESS
        updates = [ch.unary_unary('/cplane.v1.ClusterService/UpdateCluster',
                                  request_serializer=pb.UpdateClusterRequest.SerializeToString,
                                  response_deserializer=pb.UpdateClusterResponse.FromString) for ch in chans]
        settle(pid)
        done = threading.Semaphore(0)
        c0, s0, t0 = cpu_s(pid), schedstat(pid), time.monotonic()
        futs = []
        for i in range(N_UPD):
            f = updates[i % nch].future(pb.UpdateClusterRequest(name='upd-%04d' % i, replicas=5), timeout=300)
            f.add_done_callback(lambda _f: done.release())
            futs.append(f)
        for _ in range(N_UPD):
            done.acquire()
        t1, c1, s1 = time.monotonic(), cpu_s(pid), schedstat(pid)
        ok = sum(1 for f in futs if f.exception() is None and f.result().result == pb.SUCCESS and
                 f.result().cluster.ready_replicas == 5)
        out('updates_ok', ok)
        out('wall_s_%d_updates' % N_UPD, t1 - t0)
        out('worker_cpu_s_%d_updates' % N_UPD, c1 - c0)
        out('worker_cpu_us_per_update', (s1[0] - s0[0]) / 1e3 / N_UPD)
        for ch in chans:
            ch.close()
    finally:
        if w:
            w.kill9()
        sim.stop()


def bench_waiting(tmp):
    """Creates that wait: the pods can never be scheduled (a selector no node has), the timeout is long."""
    sim = start_kubesim(os.path.join(tmp, 'ks-wait'), '--instant', '--node', POOL)
    w = None
    futs = []
    try:
        w = start_worker(sim, tmp, '--create-timeout', '10m', metrics=True, node_selector='cplane.dev/pool=nowhere')
        pid = w.proc.pid
        settle(pid)
        rss0 = rss_kib(pid)
        nch = max(1, (N_WAIT + 499) // 500)
        chans, creates, watches = channels(w.target, nch)
        settle(pid)
        rss1 = rss_kib(pid)
        pb = pb2()
        for i in range(N_WAIT):
            futs.append(creates[i % nch].future(pb.CreateClusterRequest(name='wait-%05d' % i, replicas=1),
                                                timeout=600))
        wait_until(lambda: metrics(w).get('cplane_waiting_calls', 0) >= N_WAIT, 60,
                   '%d waiting calls' % N_WAIT)
        # Every Deployment is created and seen (the informer holds its record) before measuring.
        wait_until(lambda: clusters_known(w) >= N_WAIT and
                   metrics(w).get('cplane_clusters{phase="CREATING"}', 0) >= N_WAIT, 60, 'records')
        settle(pid)
        rss2 = rss_kib(pid)
        out('bytes_per_connection', int((rss1 - rss0) * 1024 / nch))
        out('bytes_per_waiting_call', int((rss2 - rss1) * 1024 / N_WAIT))
        out('rss_%d_waiting_kib' % N_WAIT, rss2)

        # The call alone: Watches of the clusters already known (no new records).
        streams = []
        for i in range(N_WAIT):
            streams.append(watches[i % nch](pb.WatchClusterRequest(name='wait-%05d' % i), timeout=600))
        wait_until(lambda: metrics(w).get('cplane_waiting_calls', 0) >= 2 * N_WAIT, 60,
                   '%d waiting watches' % N_WAIT)
        # Let every stream deliver its first snapshot.
        for s in streams:
            next(s)
        settle(pid)
        rss3 = rss_kib(pid)
        out('bytes_per_waiting_watch', int((rss3 - rss2) * 1024 / N_WAIT))
        for s in streams:
            s.cancel()
        for f in futs:
            f.cancel()
        for ch in chans:
            ch.close()
    finally:
        if w:
            w.kill9()
        sim.stop()


# ------------------------------------------------------------------ (b) throughput, (c) latency

def bench_concurrent(sim, w):
    pid, spid = w.proc.pid, sim.proc.pid
    nch = max(1, (N_CONC + 499) // 500)
    chans, creates, _ = channels(w.target, nch)
    pb = pb2()
    settle(pid)
    done = threading.Semaphore(0)
    c0, k0, s0, t0 = cpu_s(pid), cpu_s(spid), schedstat(pid), time.monotonic()
    futs = []
    for i in range(N_CONC):
        f = creates[i % nch].future(pb.CreateClusterRequest(name='conc-%05d' % i, replicas=1), timeout=300)
        f.add_done_callback(lambda _f: done.release())
        futs.append(f)
    for _ in range(N_CONC):
        done.acquire()
    t1, c1, k1, s1 = time.monotonic(), cpu_s(pid), cpu_s(spid), schedstat(pid)
    ok = sum(1 for f in futs if f.exception() is None and f.result().result == pb.SUCCESS)
    out('creates_ok', ok)
    out('wall_s_1000_creates' if N_CONC == 1000 else 'wall_s_%d_creates' % N_CONC, t1 - t0)
    out('worker_cpu_s_1000_creates' if N_CONC == 1000 else 'worker_cpu_s_%d_creates' % N_CONC, c1 - c0)
    out('worker_cpu_us_per_create', (s1[0] - s0[0]) / 1e3 / N_CONC)
    out('kubesim_cpu_s_1000_creates' if N_CONC == 1000 else 'kubesim_cpu_s_%d_creates' % N_CONC, k1 - k0)
    settle(pid)
    out('rss_after_creates_kib', rss_kib(pid))
    for ch in chans:
        ch.close()


def pin(pid, cpus):
    """Sets the CPU affinity of every thread of pid; False where that is not allowed."""
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            os.sched_setaffinity(int(tid), cpus)
        return True
    except OSError:
        return False


def pin_apart(sim, w):
    """The worker alone on the last CPU; kubesim and this process (client, capture) on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    rest = set(cpus[:-1])
    if pin(w.proc.pid, {cpus[-1]}) and pin(sim.proc.pid, rest) and pin(os.getpid(), rest):
        return cpus[-1]
    return None


def unpin(sim, w):
    cpus = os.sched_getaffinity(0) | set(range(os.cpu_count()))
    for pid in (w.proc.pid, sim.proc.pid, os.getpid()):
        pin(pid, cpus)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def bench_latency(sim, w, label, prefix):
    """One Create at a time; for each, the last segment kubesim sent on the worker's watch connection
    before the worker's answer left on the gRPC connection (the answer is the first segment from the
    worker to the client that carries the cluster's name)."""
    from sniff import Sniffer

    c = Client(w.target)
    c.create(prefix + '-warm', 1)
    names = ['%s-%04d' % (prefix, i) for i in range(N_LAT)]
    try:
        sn = Sniffer([sim.port, w.port]).start()
    except OSError as e:
        out('event_to_answer_%sskipped' % label, '"a packet capture on lo needs CAP_NET_RAW: %s"' % e.strerror)
        c.close()
        return
    time.sleep(0.1)
    rq = {}                 # name -> µs the worker sat runnable, not running, during that Create
    ss0 = schedstat(w.proc.pid)
    for name in names:
        a = schedstat(w.proc.pid)[1]
        c.create(name, 1, timeout=30)
        rq[name] = (schedstat(w.proc.pid)[1] - a) / 1e3
    ss1 = schedstat(w.proc.pid)
    time.sleep(0.1)
    segs = sn.stop()
    c.close()

    from_sim = [s for s in segs if s.sport == sim.port]
    # The watch connection: the one kubesim sent the most segments on (ADDED + MODIFIED per Create;
    # the POST's connection gets one answer per Create).
    counts = {}
    for s in from_sim:
        counts[s.dport] = counts.get(s.dport, 0) + 1
    watch_port = max(counts, key=counts.get)
    lat, lat_rq, checked, matched = [], [], 0, 0
    last_event = None
    pending = {}            # name -> time of its request
    for s in segs:
        if s.dport == w.port:
            for name in names:
                if name.encode() in s.payload and name not in pending:
                    pending[name] = s.ts_ns
                    break
        elif s.sport == sim.port and s.dport == watch_port:
            last_event = s
        elif s.sport == w.port and last_event is not None:
            for name in list(pending):
                if name.encode() in s.payload:
                    if last_event.ts_ns >= pending.pop(name):
                        lat.append((s.ts_ns - last_event.ts_ns) / 1000.0)
                        lat_rq.append((lat[-1], rq[name]))
                        if not sim.tls:
                            checked += 1
                            p = last_event.payload
                            matched += (b'"name":"%s"' % name.encode() in p and b'"MODIFIED"' in p
                                        and b'"availableReplicas":1' in p)
                    break
    out('event_to_answer_%ssamples' % label, len(lat))
    out('event_to_answer_%smin_us' % label, min(lat))
    out('event_to_answer_%sp50_us' % label, percentile(lat, 50))
    out('event_to_answer_%sp90_us' % label, percentile(lat, 90))
    out('event_to_answer_%sp99_us' % label, percentile(lat, 99))
    out('event_to_answer_%smax_us' % label, max(lat))
    # Where a slow answer's time goes: the worker's own CPU per Create (POST, events, answer, logs)
    # against the time it sat runnable waiting for a CPU that others (kubesim, the client, the rest
    # of the machine) had.
    # The slowest 1% against the rest: did the worker wait for a CPU during those Creates?
    p99 = percentile(lat, 99)
    slow = [r for t, r in lat_rq if t >= p99]
    out('event_to_answer_%sslowest_1pct_runqueue_wait_us' % label, percentile(slow, 50))
    out('event_to_answer_%smedian_runqueue_wait_us' % label, percentile([r for _, r in lat_rq], 50))
    out('event_to_answer_%sworker_cpu_us_per_create' % label, (ss1[0] - ss0[0]) / 1e3 / N_LAT)
    out('event_to_answer_%sworker_runqueue_wait_us_per_create' % label, (ss1[1] - ss0[1]) / 1e3 / N_LAT)
    if not sim.tls:
        # The segment taken as the event is that cluster's MODIFIED with availableReplicas 1.
        out('event_to_answer_%sattributed' % label, '%d/%d' % (matched, checked))


def bench_creates(tmp):
    sim = start_kubesim(os.path.join(tmp, 'ks-conc'), '--instant', '--node', POOL)
    w = None
    try:
        w = start_worker(sim, tmp, metrics=True)
        bench_concurrent(sim, w)
        bench_latency(sim, w, '', 'lat')
        # On a quiet machine this separates the worker from kubesim and the client; on a shared,
        # loaded one it only takes away the scheduler's freedom to move it, so it is opt-in.
        if os.environ.get('BENCH_PIN') and pin_apart(sim, w) is not None:
            bench_latency(sim, w, 'pinned_', 'pin')
            unpin(sim, w)
    finally:
        if w:
            w.kill9()
        sim.stop()
    # The same over plain HTTP, where the capture can also check which event it took.
    sim = start_kubesim(os.path.join(tmp, 'ks-plain'), '--instant', '--plain-http', '--node', POOL)
    w = None
    try:
        w = start_worker(sim, tmp, metrics=True)
        bench_latency(sim, w, 'plain_http_', 'plain')
    finally:
        if w:
            w.kill9()
        sim.stop()


def main():
    os.chdir(ROOT)
    tmp = tempfile.mkdtemp(prefix='bench-worker-')
    t = time.monotonic()
    out('cpus', len(os.sched_getaffinity(0)))
    out('loadavg_1m_before', loadavg())
    try:
        parts = sys.argv[1:] or ['memory', 'memory100k', 'idle', 'spec', 'waiting', 'creates', 'updates']
        if 'memory' in parts:
            bench_memory(tmp)
        if 'memory100k' in parts:
            bench_memory_100k(tmp)
        if 'idle' in parts:
            bench_idle_connections(tmp)
        if 'spec' in parts:
            bench_spec_memory(tmp)
        if 'updates' in parts:
            bench_updates(tmp)
        if 'waiting' in parts:
            bench_waiting(tmp)
        if 'creates' in parts:
            bench_creates(tmp)
    finally:
        if os.environ.get('BENCH_KEEP'):
            print('# kept ' + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    out('loadavg_1m_after', loadavg())
    out('bench_s', time.monotonic() - t)


if __name__ == '__main__':
    main()
