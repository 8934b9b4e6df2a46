"""src/k8s against kubesim: TLS (RSA/ECDSA CAs, wrong CA, wrong name), in-cluster and plain-http
config, token rotation, Deployment calls, pagination, and the informer under every fault knob.

The C side is tests/tools/k8s_probe.c (built as build/tools/k8s_probe): it runs the informer and
prints its events, cache and counters as JSON lines, and takes commands on stdin.
"""

import fcntl
import json
import os
import queue
import subprocess
import threading
import time

import pytest

from kubesim_fixture import start_kubesim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.environ.get('CPLANE_K8S_PROBE', os.path.join(ROOT, 'build', 'tools', 'k8s_probe'))
MANAGED = {'app.kubernetes.io/managed-by': 'cplane'}


@pytest.fixture(scope='module', autouse=True)
def build_probe():
    if 'CPLANE_K8S_PROBE' in os.environ:
        return
    os.makedirs(os.path.join(ROOT, 'build'), exist_ok=True)
    with open(os.path.join(ROOT, 'build', '.k8s_probe.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # parallel pytest workers: one make at a time
        r = subprocess.run(['make', '-s', 'build/tools/k8s_probe'], cwd=ROOT, capture_output=True, text=True,
                           timeout=900)
    if r.returncode != 0:
        pytest.fail('building k8s_probe failed:\n' + r.stdout[-3000:] + r.stderr[-3000:])


class Probe:
    def __init__(self, *args, env=None):
        e = dict(os.environ, ASAN_OPTIONS='detect_leaks=1')
        e.update(env or {})
        self.p = subprocess.Popen([PROBE, *[str(a) for a in args]], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        self.lines = queue.Queue()
        self.events = []        # upsert/delete/synced, in order
        self.stderr = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.started = self.next(lambda m: m['ev'] in ('started', 'config_error'), 10)

    def _read(self):
        for line in self.p.stdout:
            m = json.loads(line)
            if m['ev'] in ('upsert', 'delete', 'synced'):
                with self.lock:
                    self.events.append(m)
            self.lines.put(m)
        self.lines.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            self.stderr.append(line)

    def next(self, pred, timeout=10):
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise AssertionError('probe: timed out; stderr:\n' + ''.join(self.stderr[-30:]))
            try:
                m = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                raise AssertionError('probe exited; stderr:\n' + ''.join(self.stderr[-30:]))
            if pred(m):
                return m

    def cmd(self, line, timeout=30):
        name = line.split()[0]
        self.p.stdin.write(line + '\n')
        self.p.stdin.flush()
        return self.next(lambda m: m['ev'] == 'reply' and m['cmd'] == name, timeout)

    def event(self, pred, timeout=10):
        """The first informer event (from the start of the run) matching pred."""
        end = time.time() + timeout
        while True:
            with self.lock:
                for m in self.events:
                    if pred(m):
                        return m
            if time.time() > end:
                raise AssertionError('probe: no such event; stderr:\n' + ''.join(self.stderr[-30:]))
            if self.p.poll() is not None:
                raise AssertionError('probe exited; stderr:\n' + ''.join(self.stderr[-30:]))
            time.sleep(0.05)    # polls inside a bounded wait for the probe's event

    def synced(self, timeout=30):
        return self.event(lambda m: m['ev'] == 'synced', timeout)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write('quit\n')
                self.p.stdin.flush()
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def flags(sim, ca=None):
    return ['--apiserver', sim.url, '--token-file', sim.token_file, '--ca-file', ca or sim.ca,
            '--namespace', sim.namespace]


@pytest.fixture
def probes():
    started = []

    def start(*args, **kw):
        p = Probe(*args, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        rc = p.close()
        assert rc == 0, 'probe exit %r (sanitizer?):\n%s' % (rc, ''.join(p.stderr[-40:]))


def store_rvs(sim):
    st = sim.state('deployments')
    return {d['metadata']['name']: d['metadata']['resourceVersion'] for d in st['deployments']
            if (d['metadata'].get('labels') or {}).get('app.kubernetes.io/managed-by') == 'cplane'}


def cache_rvs(probe):
    return {n: d['rv'] for n, d in probe.cmd('dump')['items'].items()}


def check_event_log(probe, cache):
    """No duplicates (per name, resourceVersions only grow), and replaying the log gives the cache."""
    with probe.lock:
        evs = list(probe.events)
    last, state = {}, {}
    for e in evs:
        if e['ev'] == 'synced':
            continue
        rv = int(e['rv'])
        prev = last.get(e['name'])
        if e['ev'] == 'upsert':
            assert prev is None or rv > prev, 'duplicate/out-of-order upsert %r after rv %r' % (e, prev)
            state[e['name']] = e['rv']
        else:
            assert prev is None or rv >= prev, 'delete %r before rv %r' % (e, prev)
            assert e['name'] in state, 'delete of a name never reported: %r' % e
            del state[e['name']]
        last[e['name']] = rv
    assert state == cache


# ---------------------------------------------------------------- TLS and config

@pytest.mark.parametrize('ca', ['rsa', 'ecdsa'])
def test_tls_ca_kinds_and_crud(tmp_path, probes, ca):
    sim = start_kubesim(tmp_path / 'sim', '--ca', ca, '--ready-pace-ms', '10')
    try:
        p = probes(*flags(sim))
        assert p.started['tls'] == 1 and p.started['server_name'] == 'kubernetes.default.svc'
        assert p.synced()['count'] == 0
        r = p.cmd('create demo 3 registry.k8s.io/pause:3.9 cplane.dev/pool=x')
        assert r['ok'] == 1 and r['object']['name'] == 'demo' and r['object']['replicas'] == 3
        d = sim.api('GET', '/apis/apps/v1/namespaces/default/deployments/demo')[1]
        assert d['metadata']['labels'] == {'app.kubernetes.io/managed-by': 'cplane',
                                           'app.kubernetes.io/name': 'demo', 'cplane.dev/cluster': 'demo'}
        assert d['spec']['selector'] == {'matchLabels': {'cplane.dev/cluster': 'demo'}}
        assert d['spec']['template']['spec']['nodeSelector'] == {'cplane.dev/pool': 'x'}
        assert d['spec']['template']['spec']['containers'][0]['name'] == 'app'
        assert d['spec']['progressDeadlineSeconds'] == 600
        r = p.cmd('create demo 3 registry.k8s.io/pause:3.9')
        assert (r['ok'], r['code'], r['reason']) == (0, 409, 'AlreadyExists')
        # the informer sees it; the pods never schedule (no node has the label): a diagnosis says why
        p.event(lambda m: m['ev'] == 'upsert' and m['name'] == 'demo', 10)
        sim.wait_for(lambda: len(sim.state('pods')['pods']) == 3, 10, what='pods')
        r = p.cmd('diag demo 0 3')
        assert r['ok'] == 1
        assert r['diagnosis'].startswith('0/3 available; pod demo-'), r
        assert 'Unschedulable: 0/1 nodes are available' in r['diagnosis'] and '(and 2 more pods like it)' in \
            r['diagnosis'], r
        r = p.cmd('get demo')
        assert r['ok'] == 1 and r['object']['label_cluster'] == 'demo'
        r = p.cmd('delete demo')
        assert r['ok'] == 1
        p.event(lambda m: m['ev'] == 'delete' and m['name'] == 'demo', 15)
        r = p.cmd('delete demo')
        assert (r['ok'], r['code'], r['reason']) == (0, 404, 'NotFound')
        r = p.cmd('get demo')
        assert (r['ok'], r['code'], r['reason']) == (0, 404, 'NotFound')
    finally:
        sim.stop()


def test_tls_wrong_ca_says_unknown_authority(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim')
    try:
        p = probes(*flags(sim, ca=sim.other_ca), '--no-informer')
        r = p.cmd('get x')
        assert r['ok'] == 0 and r['kind'] == 'tls', r
        assert 'certificate signed by unknown authority' in r['message'], r
    finally:
        sim.stop()


def test_tls_wrong_name_says_name_mismatch(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--cert-dns', 'not-the-apiserver.example', '--cert-ips', '127.0.0.1')
    try:
        p = probes(*flags(sim), '--no-informer')
        assert p.started['server_name'] == 'kubernetes.default.svc'
        r = p.cmd('get x')
        assert r['ok'] == 0 and r['kind'] == 'tls', r
        assert 'name mismatch' in r['message'], r
    finally:
        sim.stop()


def test_in_cluster_config(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--namespace', 'team-a')
    try:
        env = {'KUBERNETES_SERVICE_HOST': '127.0.0.1', 'KUBERNETES_SERVICE_PORT': str(sim.port)}
        p = probes('--sa-dir', sim.sa_dir, env=env)
        assert p.started == {'ev': 'started', 'namespace': 'team-a', 'server_name': 'kubernetes.default.svc',
                             'tls': 1}
        p.synced()
        assert p.cmd('create a 1 nginx')['ok'] == 1
        assert sim.api('GET', '/apis/apps/v1/namespaces/team-a/deployments/a')[0] == 200
        # not in a cluster: a one-line reason
        q = Probe('--sa-dir', sim.sa_dir, env={'KUBERNETES_SERVICE_HOST': ''})
        assert q.started['ev'] == 'config_error' and 'KUBERNETES_SERVICE_HOST' in q.started['error']
        assert q.close() == 1
    finally:
        sim.stop()


def test_plain_http_like_kubectl_proxy(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--plain-http', '--instant')
    try:
        assert sim.url.startswith('http://')
        p = probes('--apiserver', sim.url, '--token-file', sim.token_file)
        assert p.started['tls'] == 0
        p.synced()
        assert p.cmd('create web 2 nginx')['ok'] == 1
        p.event(lambda m: m['ev'] == 'upsert' and m['name'] == 'web' and m['is_ready'] == 1, 15)
    finally:
        sim.stop()


def test_token_rotation_mid_run(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--instant')
    try:
        p = probes(*flags(sim), '--watch-min', '2', '--watch-max', '3')
        p.synced()
        assert p.cmd('create before 1 nginx')['ok'] == 1
        sim.admin('rotate-token', {'grace_s': 0})
        # the next call meets a 401, re-reads the token file and succeeds on its retry
        r = p.cmd('create after 1 nginx')
        assert r['ok'] == 1, r
        assert p.cmd('stats')['token_reloads'] >= 1
        # watches started after the rotation authenticate with the new token
        sim.admin('drop-watches', {})
        assert p.cmd('create later 1 nginx')['ok'] == 1
        p.event(lambda m: m['ev'] == 'upsert' and m['name'] == 'later', 15)
        sim.wait_for(lambda: cache_rvs(p) == store_rvs(sim), 15, what='cache == store')
    finally:
        sim.stop()


def test_thousand_deployments_in_pages(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--instant')
    try:
        r = sim.admin('bulk-create', {'prefix': 'bulk', 'count': 1000, 'replicas': 0, 'labels': MANAGED})
        assert r['created'] == 1000
        sim.admin('bulk-create', {'prefix': 'other', 'count': 5, 'replicas': 0})  # not ours: not listed
        # the simulated controller writes status for each new Deployment: let it finish, so
        # the comparison below is against a store that no longer moves
        assert sim.settle(30)
        p = probes(*flags(sim), '--page-limit', '100')
        assert p.synced(60)['count'] == 1000
        s = p.cmd('stats')
        assert s['list_pages'] in (10, 11) and s['lists'] == 1, s
        sim.wait_for(lambda: cache_rvs(p) == store_rvs(sim), timeout=20, what='cache equals store')
        check_event_log(p, store_rvs(sim))
    finally:
        sim.stop()


# ---------------------------------------------------------------- informer under faults

FAULTS = {
    'drops': {'watch_drop_rate': 0.05, 'watch_drop_after_s': 0.7},
    '410s': {'expire_every_s': 0.4},
    '410s-as-http': {'expire_every_s': 0.3, 'watch_gone_as_http': True, 'expire_kills_watches': False,
                     'watch_drop_rate': 0.1},
    '5xx': {'error_5xx_rate': 0.3},
    '429': {'error_429_rate': 0.3, 'retry_after_s': 1},
    'split-writes': {'split_writes': True},
}


@pytest.mark.parametrize('fault', sorted(FAULTS))
def test_informer_converges_after_fault(tmp_path, probes, fault):
    sim = start_kubesim(tmp_path / 'sim', '--ready-pace-ms', '30')
    try:
        sim.admin('bulk-create', {'prefix': 'base', 'count': 30, 'replicas': 2, 'labels': MANAGED})
        p = probes(*flags(sim), '--page-limit', '7', '--watch-min', '3', '--watch-max', '5',
                   '--backoff-cap-ms', '2000')
        assert p.synced(30)['count'] == 30
        defaults = sim.admin('knobs', method='GET')
        sim.knobs(**FAULTS[fault])
        end = time.time() + 4
        i = 0
        while time.time() < end:
            sim.admin('churn', {'prefix': 'base', 'count': 20})
            sim.admin('bulk-create', {'prefix': 'extra%d' % i, 'count': 2, 'replicas': 1, 'labels': MANAGED})
            if i % 2 == 0:
                sim.admin('delete', {'name': 'extra%d-00000' % i})
                sim.admin('delete', {'name': 'base-%05d' % i})
            if fault in ('5xx', '429'):
                # requests of our own, and watches that must be re-established, meet the faults
                sim.admin('drop-watches', {})
                p.cmd('get base-00029', timeout=60)
            i += 1
            time.sleep(0.15)    # paces the load (4 s of it), not a wait
        sim.knobs(**{k: defaults[k] for k in FAULTS[fault]})
        sim.admin('churn', {'prefix': 'base', 'count': 5})
        sim.wait_for(lambda: cache_rvs(p) == store_rvs(sim), 40, interval=0.3, what='cache == store')
        want = store_rvs(sim)
        check_event_log(p, want)
        s = p.cmd('stats')
        if fault in ('drops',):
            assert s['watch_restarts'] > 0, s
        if fault.startswith('410s'):
            assert s['relists'] > 0 and s['expired'] > 0, s
        if fault == '429':
            assert s['retries'] + s['throttled'] > 0, s
        if fault == '5xx':
            assert s['retries'] + s['watch_errors'] > 0, s
    finally:
        sim.stop()


# ---------------------------------------------------------------- request policy

def test_client_timeouts_retries_and_connection_reuse(tmp_path, probes):
    sim = start_kubesim(tmp_path / 'sim', '--instant')
    try:
        p = probes(*flags(sim), '--no-informer', '--timeout-ms', '400')
        # keep-alive connections the server closed while idle: the next request, a POST too, goes through
        sim.knobs(idle_close_s=0.3)
        assert p.cmd('create a 1 nginx')['ok'] == 1
        sim.wait_stat('idle_closes', 1)                 # the server closed the idle connection
        assert p.cmd('create b 1 nginx')['ok'] == 1
        assert p.cmd('get a')['ok'] == 1
        sim.knobs(idle_close_s=0.0, max_requests_per_conn=2)
        for _ in range(5):
            assert p.cmd('get b')['ok'] == 1
        sim.knobs(max_requests_per_conn=0)
        # RBAC refusal: Forbidden with the server's words
        sim.knobs(deny=['create deployments'], user='system:serviceaccount:default:cplane')
        r = p.cmd('create c 1 nginx')
        assert (r['ok'], r['code'], r['reason']) == (0, 403, 'Forbidden') and 'cannot create' in r['message'], r
        sim.knobs(deny=[])
        # slow answers: GET is retried (4 times) then times out; a POST is not retried (it may have been applied)
        before = p.cmd('stats')['retries']
        sim.knobs(delay_ms=1500)
        r = p.cmd('get a', timeout=60)
        assert (r['ok'], r['kind']) == (0, 'timeout'), r
        mid = p.cmd('stats')['retries']
        assert mid - before == 4
        r = p.cmd('create late 1 nginx', timeout=30)
        assert (r['ok'], r['kind']) == (0, 'timeout'), r
        assert p.cmd('stats')['retries'] == mid
        sim.knobs(delay_ms=0)
        sim.wait_for(lambda: sim.api('GET', '/apis/apps/v1/namespaces/default/deployments/late')[0] == 200, 10,
                     what='the slow POST applied')
        assert p.cmd('get a')['ok'] == 1
    finally:
        sim.stop()
