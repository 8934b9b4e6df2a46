"""Start/stop kubesim as a subprocess and talk to it (API and admin endpoints) from tests.

    from kubesim_fixture import start_kubesim, kubesim      # `kubesim` is a pytest fixture

    sim = start_kubesim(tmp_path, '--instant', '--node', 'cplane.dev/pool=x')
    sim.url, sim.port, sim.ca, sim.token, sim.token_file, sim.sa_dir, sim.kubeconfig, sim.other_ca
    code, obj = sim.api('GET', '/apis/apps/v1/namespaces/default/deployments')
    sim.settle()                                     # controllers idle: the store will not move by itself
    sim.admin('knobs', {'error_5xx_rate': 0.2})     # POST /kubesim/knobs
    sim.client_token, sim.auth(add_users=[...], rules=[...])  # callers the TokenReview/SAR know
    sim.state()                                      # GET /kubesim/state
    sim.wait_for(lambda: ..., timeout=10)
    sim.stop()
"""

import http.client
import json
import os
import select
import signal
import ssl
import subprocess
import tempfile
import time

try:
    import pytest
except ImportError:          # usable without pytest too
    pytest = None

HERE = os.path.dirname(os.path.abspath(__file__))
KUBESIM = os.path.join(HERE, 'kubesim.py')
PYTHON = '/usr/bin/python3'
PKI_CACHE = os.path.join(tempfile.gettempdir(), 'kubesim-pki-cache-%d' % os.getuid())


class KubeSimError(Exception):
    pass


class KubeSim:
    def __init__(self, proc, info, state_dir):
        self.proc = proc
        self.info = info
        self.state_dir = state_dir
        self.port = info['port']
        self.url = info['url']
        self.host = '127.0.0.1' if '127.0.0.1' in self.url else self.url.split('//')[1].rsplit(':', 1)[0].strip('[]')
        self.ca = info.get('ca')
        self.other_ca = info.get('other_ca')
        self.sa_dir = info['sa_dir']
        self.token_file = info['token_file']
        self.namespace = info['namespace']
        self.kubeconfig = info['kubeconfig']
        self.tls = self.url.startswith('https')
        # A caller the reviews know (kubesim_auth.py): cplane-driver, audience cplane, every cplane verb.
        self.client_token = info.get('client_token')
        self.client_token_file = info.get('client_token_file')
        self.client_user = info.get('client_user')

    @property
    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()

    def ssl_context(self, ca=None):
        ctx = ssl.create_default_context(cafile=ca or self.ca)
        return ctx

    def connection(self, timeout=10, ca=None):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ssl_context(ca), timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def raw(self, method, path, body=None, token=True, headers=None, timeout=10, conn=None):
        """One request; returns (status, headers dict (lower-case keys), body bytes)."""
        own = conn is None
        c = conn or self.connection(timeout)
        h = {'Accept': 'application/json'}
        if token is True:
            h['Authorization'] = 'Bearer ' + self.token
        elif token:
            h['Authorization'] = 'Bearer ' + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h['Content-Type'] = 'application/json'
        h.update(headers or {})
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                c.close()

    def api(self, method, path, body=None, **kw):
        """Returns (status, parsed JSON body or None)."""
        code, _, data = self.raw(method, path, body, **kw)
        try:
            return code, json.loads(data) if data.strip() else None
        except ValueError:
            return code, data

    def admin(self, op, body=None, method=None):
        method = method or ('GET' if body is None and op in ('state', 'knobs', 'stats') else 'POST')
        code, _, data = self.raw(method, '/kubesim/' + op, body if body is not None or method == 'GET' else {},
                                 token=False)
        if code != 200:
            raise KubeSimError('admin %s: %d %s' % (op, code, data[:300]))
        return json.loads(data)

    def knobs(self, **kw):
        return self.admin('knobs', kw)

    def auth(self, **kw):
        """POST /kubesim/auth: add_users=[{token, username, groups, audiences}], revoke=[token], rules=[...],
        add_rules=[...], delegators=[...], unavailable=bool (see kubesim_auth.py)."""
        return self.admin('auth', kw)

    def settle(self, timeout=10.0):
        """Blocks until the simulated controllers are idle (True) or timeout (False)."""
        return self.admin('settle', {'timeout_s': timeout})['settled']

    def state(self, resource=None):
        return self.admin('state' + ('?resource=' + resource if resource else ''), method='GET')

    def watch(self, path, timeout=10):
        """Opens a watch; returns (connection, response). Read events with read_events()."""
        c = self.connection(timeout)
        c.request('GET', path, headers={'Authorization': 'Bearer ' + self.token, 'Accept': 'application/json'})
        return c, c.getresponse()

    @staticmethod
    def read_events(resp, max_events=None, until=None):
        """Reads newline-delimited watch events until EOF, max_events, or until(event) is true."""
        evs = []
        while max_events is None or len(evs) < max_events:
            line = resp.readline()
            if not line:
                break
            ev = json.loads(line)
            evs.append(ev)
            if until is not None and until(ev):
                break
        return evs

    def deployment(self, name, replicas=1, image='registry.k8s.io/pause:3.9', ns=None, node_selector=None,
                   labels=None, progress_deadline=None):
        lab = {'app.kubernetes.io/managed-by': 'cplane', 'app.kubernetes.io/name': name, 'cplane.dev/cluster': name}
        lab.update(labels or {})
        spec = {'containers': [{'name': 'node', 'image': image}]}
        if node_selector:
            spec['nodeSelector'] = node_selector
        d = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'labels': lab},
             'spec': {'replicas': replicas, 'selector': {'matchLabels': {'cplane.dev/cluster': name}},
                      'template': {'metadata': {'labels': lab}, 'spec': spec}}}
        if progress_deadline is not None:
            d['spec']['progressDeadlineSeconds'] = progress_deadline
        return self.api('POST', '/apis/apps/v1/namespaces/%s/deployments' % (ns or self.namespace), d)

    def stat(self, key):
        """One of kubesim's counters (GET /kubesim/stats): requests, forbidden, fault_429, ...; 0 if never counted."""
        return self.admin('stats').get(key, 0)

    def wait_stat(self, key, at_least, timeout=20.0):
        return self.wait_for(lambda: self.stat(key) >= at_least, timeout, what='kubesim %s >= %s' % (key, at_least))

    def wait_for(self, pred, timeout=10.0, interval=0.05, what='condition'):
        end = time.time() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.time() > end:
                raise KubeSimError('timed out after %.1fs waiting for %s' % (timeout, what))
            time.sleep(interval)    # polls inside wait_for's bounded loop

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(os.path.join(self.state_dir, 'kubesim.stderr')) as f:
                return f.read()
        except OSError:
            return ''

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()


def start_kubesim(state_dir=None, *args, timeout=30.0, cache_pki=True):
    """Starts kubesim with the given extra CLI args; returns a KubeSim once its ready line arrived.

    cache_pki: reuse certificates across simulators (per user, in the temp dir) to save RSA key generation;
    pass False to get a fresh CA (e.g. to prove a client rejects another simulator's CA)."""
    state_dir = str(state_dir or tempfile.mkdtemp(prefix='kubesim-'))
    os.makedirs(state_dir, exist_ok=True)
    errf = open(os.path.join(state_dir, 'kubesim.stderr'), 'w')
    args = [str(a) for a in args]
    if cache_pki and '--pki-cache' not in args:
        args += ['--pki-cache', PKI_CACHE]
    cmd = [PYTHON, KUBESIM, '--listen', '127.0.0.1:0', '--state-dir', state_dir] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL)
    errf.close()
    end = time.time() + timeout
    buf = b''
    while b'\n' not in buf:
        left = end - time.time()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait()
            with open(os.path.join(state_dir, 'kubesim.stderr')) as f:
                raise KubeSimError('kubesim did not start: %s' % f.read()[-2000:])
        r, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                continue
            buf += chunk
    info = json.loads(buf.split(b'\n', 1)[0])
    return KubeSim(proc, info, state_dir)


if pytest is not None:
    @pytest.fixture
    def kubesim(tmp_path):
        """A fresh kubesim (RSA CA, 20 ms readiness pace, one unlabelled node) for one test."""
        sim = start_kubesim(tmp_path / 'kubesim', '--ready-pace-ms', '20')
        try:
            yield sim
        finally:
            sim.stop()
