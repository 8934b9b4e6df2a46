"""Tests of the Kubernetes API simulator itself (tests/e2e/kubesim.py)."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from kubesim_fixture import start_kubesim

DEPLOYS = '/apis/apps/v1/namespaces/default/deployments'
PODS = '/api/v1/namespaces/default/pods'


@pytest.fixture(autouse=True)
def _bounded():
    """Every test here ends within 90 s even if something hangs (no pytest-timeout on this box)."""
    def boom(*_):
        raise TimeoutError('test exceeded 90 s')
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(90)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def sim(tmp_path):
    s = start_kubesim(tmp_path / 'ks', '--ready-pace-ms', '20')
    yield s
    s.stop()


def get_dep(sim, name):
    code, d = sim.api('GET', DEPLOYS + '/' + name)
    return d if code == 200 else None


def rolled_out(d):
    """What `kubectl rollout status` (and cplane's READY) means."""
    if not d:
        return False
    st = d.get('status', {})
    want = d['spec']['replicas']
    avail = any(c['type'] == 'Available' and c['status'] == 'True' for c in st.get('conditions', []))
    return (st.get('observedGeneration', 0) >= d['metadata']['generation'] and
            st.get('updatedReplicas', 0) == want and st.get('availableReplicas', 0) == want and avail)


def test_ready_line_and_serviceaccount_files(sim):
    assert sim.url.startswith('https://127.0.0.1:')
    for f in ('token', 'ca.crt', 'namespace'):
        assert os.path.getsize(os.path.join(sim.sa_dir, f)) > 0
    with open(os.path.join(sim.sa_dir, 'namespace')) as f:
        assert f.read() == 'default'
    assert sim.info['token'] == sim.token


def test_certificate_names_and_tls12(sim):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(sim.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers('ECDHE+AESGCM:ECDHE+CHACHA20')
    for name in ('kubernetes.default.svc', 'kubernetes.default', 'kubernetes', 'localhost'):
        with socket.create_connection(('127.0.0.1', sim.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                assert s.version() == 'TLSv1.2'
    with socket.create_connection(('127.0.0.1', sim.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname='wrong.example')
    bad = ssl.create_default_context(cafile=sim.other_ca)
    with socket.create_connection(('127.0.0.1', sim.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            bad.wrap_socket(raw, server_hostname='kubernetes.default.svc')


def test_ecdsa_ca(tmp_path):
    s = start_kubesim(tmp_path / 'ks', '--ca', 'ecdsa')
    try:
        out = subprocess.run(['openssl', 'x509', '-in', s.ca, '-noout', '-text'], capture_output=True, text=True,
                             timeout=10).stdout
        assert 'id-ecPublicKey' in out
        code, body = s.api('GET', '/version')
        assert code == 200 and body['major'] == '1'
    finally:
        s.stop()


def test_auth_401(sim):
    code, st = sim.api('GET', DEPLOYS, token=False)
    assert code == 401 and st['kind'] == 'Status' and st['reason'] == 'Unauthorized' and st['code'] == 401
    code, st = sim.api('GET', DEPLOYS, token='nope')
    assert code == 401


def test_create_get_list_delete_and_statuses(sim):
    code, d = sim.deployment('alpha', replicas=2)
    assert code == 201, d
    md = d['metadata']
    assert md['generation'] == 1 and md['uid'] and int(md['resourceVersion']) > 0
    assert md['creationTimestamp'].endswith('Z')
    assert d['spec']['progressDeadlineSeconds'] == 600 and d['spec']['strategy']['type'] == 'RollingUpdate'
    code, st = sim.deployment('alpha')
    assert code == 409 and st['reason'] == 'AlreadyExists' and st['details']['name'] == 'alpha'
    assert st['message'] == 'deployments.apps "alpha" already exists'
    code, st = sim.deployment('Bad_Name')
    assert code == 422 and st['reason'] == 'Invalid' and st['details']['causes'][0]['field'] == 'metadata.name'
    code, st = sim.api('GET', DEPLOYS + '/missing')
    assert code == 404 and st['reason'] == 'NotFound' and st['message'] == 'deployments.apps "missing" not found'
    code, st = sim.api('POST', DEPLOYS, b'{not json', headers={'Content-Type': 'application/json'})
    assert code == 400 and st['reason'] == 'BadRequest'

    d = sim.wait_for(lambda: rolled_out(get_dep(sim, 'alpha')) and get_dep(sim, 'alpha'), what='rollout')
    st = d['status']
    assert st['readyReplicas'] == 2 and 'unavailableReplicas' not in st
    conds = {c['type']: c for c in st['conditions']}
    assert conds['Available']['reason'] == 'MinimumReplicasAvailable'
    assert conds['Progressing']['reason'] == 'NewReplicaSetAvailable'
    code, pods = sim.api('GET', PODS + '?labelSelector=cplane.dev/cluster%3Dalpha')
    assert code == 200 and len(pods['items']) == 2
    for p in pods['items']:
        assert p['metadata']['name'].startswith('alpha-') and p['status']['phase'] == 'Running'
        assert 'kind' not in p
    code, lst = sim.api('GET', DEPLOYS)
    assert code == 200 and lst['kind'] == 'DeploymentList' and [i['metadata']['name'] for i in lst['items']] == ['alpha']

    code, st = sim.api('DELETE', DEPLOYS + '/alpha')
    assert code == 200 and st['kind'] == 'Status' and st['status'] == 'Success'
    assert get_dep(sim, 'alpha') is None
    sim.wait_for(lambda: not sim.api('GET', PODS)[1]['items'], what='pods gone')
    code, st = sim.api('DELETE', DEPLOYS + '/alpha')
    assert code == 404


def test_label_selectors(sim):
    for i, team in enumerate(['a', 'b', 'c']):
        code, _ = sim.deployment('sel-%d' % i, replicas=0, labels={'team': team})
        assert code == 201
    code, _ = sim.deployment('other', replicas=0, labels={'app.kubernetes.io/managed-by': 'someone'})

    def names(sel):
        code, lst = sim.api('GET', DEPLOYS + '?labelSelector=' + sel)
        assert code == 200, lst
        return sorted(i['metadata']['name'] for i in lst['items'])
    assert names('team%3Da') == ['sel-0']
    assert names('team%3Da,app.kubernetes.io/managed-by%3Dcplane') == ['sel-0']
    assert names('team!%3Da,team') == ['sel-1', 'sel-2']
    assert names('team%20in%20(a,c)') == ['sel-0', 'sel-2']
    assert names('!team') == ['other']
    assert names('app.kubernetes.io/managed-by%3Dcplane') == ['sel-0', 'sel-1', 'sel-2']


def test_pagination_is_a_consistent_snapshot(sim):
    sim.admin('bulk-create', {'prefix': 'p', 'count': 25})
    code, first = sim.api('GET', DEPLOYS + '?limit=10')
    assert code == 200 and len(first['items']) == 10
    list_rv = first['metadata']['resourceVersion']
    assert first['metadata']['remainingItemCount'] == 15
    # Changes after the first page must not show up in later pages.
    sim.deployment('p-99999', replicas=0)
    names = [i['metadata']['name'] for i in first['items']]
    tok = first['metadata']['continue']
    while tok:
        code, page = sim.api('GET', DEPLOYS + '?limit=10&continue=' + tok)
        assert code == 200 and page['metadata']['resourceVersion'] == list_rv
        names += [i['metadata']['name'] for i in page['items']]
        tok = page['metadata'].get('continue')
    assert names == ['p-%05d' % i for i in range(25)]
    code, st = sim.api('GET', DEPLOYS + '?limit=10&continue=garbage!!')
    assert code == 400
    # After compaction, continue tokens expire with 410.
    code, first = sim.api('GET', DEPLOYS + '?limit=5')
    sim.admin('compact', {})
    code, st = sim.api('GET', DEPLOYS + '?limit=5&continue=' + first['metadata']['continue'])
    assert code == 410 and st['reason'] == 'Expired'


def test_watch_from_list_rv_sees_every_change(sim):
    code, lst = sim.api('GET', DEPLOYS)
    rv = lst['metadata']['resourceVersion']
    c, r = sim.watch(DEPLOYS + '?watch=1&allowWatchBookmarks=true&timeoutSeconds=20&resourceVersion=' + rv)
    try:
        assert r.status == 200 and r.getheader('Transfer-Encoding') == 'chunked'
        sim.deployment('w1', replicas=2)
        evs = sim.read_events(r, until=lambda e: e['type'] != 'BOOKMARK' and rolled_out(e['object']))
        types = [e['type'] for e in evs if e['type'] != 'BOOKMARK']
        assert types[0] == 'ADDED' and set(types[1:]) == {'MODIFIED'}
        rvs = [int(e['object']['metadata']['resourceVersion']) for e in evs]
        assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)
        sim.api('DELETE', DEPLOYS + '/w1')
        evs = sim.read_events(r, until=lambda e: e['type'] == 'DELETED')
        assert evs[-1]['object']['metadata']['name'] == 'w1'
    finally:
        c.close()


def test_watch_bookmarks_and_timeout(sim):
    sim.knobs(bookmark_interval_s=0.2)
    code, lst = sim.api('GET', DEPLOYS)
    c, r = sim.watch(DEPLOYS + '?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion='
                     + lst['metadata']['resourceVersion'])
    try:
        t0 = time.time()
        evs = sim.read_events(r)
        assert time.time() - t0 < 5
        assert evs and all(e['type'] == 'BOOKMARK' for e in evs)
        assert evs[0]['object']['kind'] == 'Deployment' and evs[0]['object']['metadata']['resourceVersion']
    finally:
        c.close()


def test_watch_too_old_rv_gets_410(sim):
    sim.deployment('old', replicas=0)
    sim.admin('compact', {})
    c, r = sim.watch(DEPLOYS + '?watch=1&resourceVersion=1')
    try:
        assert r.status == 200
        evs = sim.read_events(r)
        assert len(evs) == 1 and evs[0]['type'] == 'ERROR'
        assert evs[0]['object']['code'] == 410 and evs[0]['object']['reason'] == 'Expired'
    finally:
        c.close()
    sim.knobs(watch_gone_as_http=True)
    code, st = sim.api('GET', DEPLOYS + '?watch=1&resourceVersion=1')
    assert code == 410 and st['reason'] == 'Expired'


def test_watch_with_selector_and_initial_state(sim):
    sim.deployment('mine', replicas=0)
    sim.deployment('theirs', replicas=0, labels={'app.kubernetes.io/managed-by': 'other'})
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=1&labelSelector=app.kubernetes.io/managed-by%3Dcplane')
    try:
        evs = sim.read_events(r)
        names = {e['object']['metadata']['name'] for e in evs if e['type'] == 'ADDED'}
        assert names == {'mine'}
    finally:
        c.close()


def test_foreground_delete(sim):
    sim.knobs(ready_pace_ms=50)
    sim.deployment('fg', replicas=3)
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'fg')), what='rollout')
    code, lst = sim.api('GET', DEPLOYS)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=20&resourceVersion=' + lst['metadata']['resourceVersion'])
    try:
        code, d = sim.api('DELETE', DEPLOYS + '/fg', {'kind': 'DeleteOptions', 'apiVersion': 'v1',
                                                       'propagationPolicy': 'Foreground'})
        assert code == 200 and d['kind'] == 'Deployment'
        assert d['metadata']['deletionTimestamp'] and 'foregroundDeletion' in d['metadata']['finalizers']
        evs = sim.read_events(r, until=lambda e: e['type'] == 'DELETED')
        assert evs[0]['type'] == 'MODIFIED' and evs[0]['object']['metadata']['deletionTimestamp']
        assert evs[-1]['type'] == 'DELETED'
        # Status keeps being written while the pods go (syncStatusOnly), catching up with the generation.
        assert any(e['type'] == 'MODIFIED' and e['object']['status'].get('replicas', 0) < 3 for e in evs)
        final = evs[-1]['object']
        assert final['status']['observedGeneration'] == final['metadata']['generation'] == 2
        code, pods = sim.api('GET', PODS)
        assert pods['items'] == []          # pods went first
    finally:
        c.close()
    # Query-parameter form works too.
    sim.deployment('fg2', replicas=1)
    code, d = sim.api('DELETE', DEPLOYS + '/fg2?propagationPolicy=Foreground')
    assert code == 200 and d['metadata'].get('deletionTimestamp')
    sim.wait_for(lambda: get_dep(sim, 'fg2') is None, what='fg2 gone')


def test_unschedulable_pods_and_progress_deadline(tmp_path):
    s = start_kubesim(tmp_path / 'ks', '--instant', '--node', 'cplane.dev/pool=subtask-topology-aware')
    try:
        code, _ = s.deployment('nowhere', replicas=2, node_selector={'cplane.dev/pool': 'elsewhere'},
                               progress_deadline=1)
        assert code == 201
        code, _ = s.deployment('somewhere', replicas=2,
                               node_selector={'cplane.dev/pool': 'subtask-topology-aware'})
        s.wait_for(lambda: rolled_out(s.api('GET', DEPLOYS + '/somewhere')[1]), what='somewhere ready')

        def pods():
            return s.api('GET', PODS + '?labelSelector=cplane.dev/cluster%3Dnowhere')[1]['items']
        s.wait_for(lambda: len(pods()) == 2, what='pods')
        for p in pods():
            assert p['status']['phase'] == 'Pending'
            cond = p['status']['conditions'][0]
            assert cond['type'] == 'PodScheduled' and cond['status'] == 'False' and cond['reason'] == 'Unschedulable'
            assert cond['message'] == ("0/1 nodes are available: 1 node(s) didn't match Pod's node "
                                       "affinity/selector.")

        def exceeded():
            d = s.api('GET', DEPLOYS + '/nowhere')[1]
            return any(c['type'] == 'Progressing' and c['reason'] == 'ProgressDeadlineExceeded' and
                       c['status'] == 'False' for c in d['status'].get('conditions', []))
        s.wait_for(exceeded, timeout=10, what='ProgressDeadlineExceeded')
        # Labelling a node makes them schedulable.
        s.admin('nodes', {'add': [{'name': 'n2', 'labels': {'cplane.dev/pool': 'elsewhere'}}]})
        s.wait_for(lambda: rolled_out(s.api('GET', DEPLOYS + '/nowhere')[1]), what='nowhere ready')
    finally:
        s.stop()


def test_bad_images(sim):
    sim.deployment('badimg', replicas=1, image='docker.io/library/nonexistent:latest')
    sim.deployment('crash', replicas=1, image='example.com/crashloop:1')

    def waiting(name):
        items = sim.api('GET', PODS + '?labelSelector=cplane.dev/cluster%3D' + name)[1]['items']
        if not items:
            return None
        cs = items[0]['status'].get('containerStatuses') or [{}]
        return cs[0].get('state', {}).get('waiting', {}).get('reason')
    sim.wait_for(lambda: waiting('badimg') == 'ImagePullBackOff', timeout=10, what='ImagePullBackOff')
    assert waiting('crash') == 'CrashLoopBackOff'
    assert not rolled_out(get_dep(sim, 'badimg'))


def test_status_codes_403_429_5xx(sim):
    sim.knobs(deny=['create deployments'])
    code, st = sim.deployment('nope')
    assert code == 403 and st['reason'] == 'Forbidden'
    assert st['message'] == ('deployments.apps is forbidden: User "system:serviceaccount:default:cplane" cannot '
                             'create resource "deployments" in API group "apps" in the namespace "default"')
    sim.knobs(deny=[], error_429_rate=1.0, retry_after_s=3)
    code, hdrs, body = sim.raw('GET', DEPLOYS)
    assert code == 429 and hdrs['retry-after'] == '3' and json.loads(body)['reason'] == 'TooManyRequests'
    sim.knobs(error_429_rate=0.0, error_5xx_rate=1.0)
    code, st = sim.api('GET', DEPLOYS)
    assert code in (500, 503) and st['kind'] == 'Status'
    code, _ = sim.api('GET', '/apis')       # discovery is spared by default
    assert code == 200
    sim.knobs(error_5xx_rate=0.0)
    assert sim.api('GET', DEPLOYS)[0] == 200


def test_split_writes_still_parse(sim):
    sim.knobs(split_writes=True, split_max=3)
    sim.deployment('split', replicas=2)
    code, lst = sim.api('GET', DEPLOYS)
    assert code == 200 and lst['items'][0]['metadata']['name'] == 'split'
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=2&resourceVersion=0')
    try:
        evs = sim.read_events(r)
        assert evs[0]['type'] == 'ADDED'
    finally:
        c.close()
    assert sim.admin('stats')['fault_split_writes'] >= 2


def _read_until_cut(sim, r):
    """Reads a watch until the server cuts it; returns (events, cleanly_terminated)."""
    import http.client
    evs = []
    buf = b''
    try:
        while True:
            data = r.read1(65536)        # unlike readline(), read1() reports a cut chunked stream
            if not data:
                return evs, True
            buf += data
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                evs.append(json.loads(line))
    except (http.client.IncompleteRead, ConnectionError, ssl.SSLError, ValueError):
        return evs, False


def test_watch_drops(sim):
    code, lst = sim.api('GET', DEPLOYS)
    rv = lst['metadata']['resourceVersion']
    sim.knobs(watch_drop_after_s=0.3)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + rv)
    try:
        evs, clean = _read_until_cut(sim, r)
        assert not clean
    finally:
        c.close()
    sim.knobs(watch_drop_after_s=0, watch_drop_rate=1.0)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + rv)
    try:
        sim.deployment('dropme', replicas=0)
        evs, clean = _read_until_cut(sim, r)
        assert not clean and not evs
    finally:
        c.close()
    sim.knobs(watch_drop_rate=0.0)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + rv)
    try:
        sim.admin('drop-watches', {})
        evs, clean = _read_until_cut(sim, r)
        assert not clean
    finally:
        c.close()
    assert sim.admin('stats')['fault_watch_drops'] >= 3


def test_expiry_ends_open_watches_and_old_rvs(sim):
    code, lst = sim.api('GET', DEPLOYS)
    rv = lst['metadata']['resourceVersion']
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + rv)
    try:
        sim.admin('compact', {'kill_watches': True})
        evs = sim.read_events(r)
        assert evs[-1]['type'] == 'ERROR' and evs[-1]['object']['code'] == 410
    finally:
        c.close()
    sim.knobs(expire_every_s=0.2)
    sim.deployment('exp', replicas=0)
    sim.wait_for(lambda: int(sim.state('deployments')['min_rv']) > int(rv), what='an expiry after the write')
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + rv)
    try:
        evs = sim.read_events(r)
        assert evs[0]['type'] == 'ERROR' and evs[0]['object']['reason'] == 'Expired'
    finally:
        c.close()


def test_history_limit_gives_410(sim):
    sim.knobs(history=5)
    code, lst = sim.api('GET', DEPLOYS)
    rv = lst['metadata']['resourceVersion']
    for i in range(12):
        sim.deployment('h%d' % i, replicas=0)
    code, st = sim.api('GET', DEPLOYS + '?watch=1&timeoutSeconds=1&resourceVersion=' + rv)
    assert code == 200 and st['type'] == 'ERROR' and st['object']['code'] == 410


def test_slow_responses(sim):
    sim.knobs(delay_ms=300)
    t0 = time.time()
    assert sim.api('GET', DEPLOYS)[0] == 200
    assert time.time() - t0 >= 0.3


def test_token_rotation(sim):
    old = sim.token
    new = sim.admin('rotate-token', {})['token']
    assert sim.token == new != old
    assert sim.api('GET', DEPLOYS, token=old)[0] == 401
    assert sim.api('GET', DEPLOYS)[0] == 200
    sim.admin('rotate-token', {'grace_s': 30})
    assert sim.api('GET', DEPLOYS, token=new)[0] == 200     # still inside the grace period
    assert sim.api('GET', DEPLOYS, token=old)[0] == 401


def test_put_patch_and_scale(sim):
    sim.deployment('edit', replicas=1)
    for _ in range(20):      # the controller writes status concurrently: retry on Conflict like any client
        code, d = sim.api('GET', DEPLOYS + '/edit')
        d['spec']['replicas'] = 3
        stale = json.loads(json.dumps(d))
        code, d2 = sim.api('PUT', DEPLOYS + '/edit', d)
        if code != 409:
            break
    assert code == 200 and d2['metadata']['generation'] == 2
    code, st = sim.api('PUT', DEPLOYS + '/edit', stale)
    assert code == 409 and st['reason'] == 'Conflict'
    code, d3 = sim.api('PATCH', DEPLOYS + '/edit', {'spec': {'replicas': 2}},
                       headers={'Content-Type': 'application/merge-patch+json'})
    assert code == 200 and d3['spec']['replicas'] == 2 and d3['metadata']['generation'] == 3
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'edit')), what='edit rollout')
    code, sc = sim.api('GET', DEPLOYS + '/edit/scale')
    assert code == 200 and sc['kind'] == 'Scale' and sc['spec']['replicas'] == 2


def test_plain_http(tmp_path):
    s = start_kubesim(tmp_path / 'ks', '--plain-http', '--instant')
    try:
        assert s.url.startswith('http://')
        assert s.deployment('plain', replicas=1)[0] == 201
        s.wait_for(lambda: rolled_out(s.api('GET', DEPLOYS + '/plain')[1]), what='plain rollout')
    finally:
        s.stop()


KUBECTL = shutil.which('kubectl')


@pytest.mark.skipif(KUBECTL is None, reason='kubectl not installed; kubesim kubectl compatibility not checked')
def test_kubectl_smoke(sim, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / 'home'), KUBECONFIG='/dev/null')
    flags = ['--server', sim.url, '--certificate-authority', sim.ca, '--token', sim.token,
             '--request-timeout', '20s', '-n', 'default']

    def kc(*args, timeout=30):
        r = subprocess.run([KUBECTL, *flags, *args], env=env, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    code, out = kc('create', 'deployment', 'kc1', '--image=registry.k8s.io/pause:3.9', '--replicas=3')
    assert code == 0 and 'deployment.apps/kc1 created' in out, out
    manifest = tmp_path / 'd.yaml'
    manifest.write_text('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kc2\n  labels: {app: kc2}\n'
                        'spec:\n  replicas: 2\n  selector: {matchLabels: {app: kc2}}\n  template:\n'
                        '    metadata: {labels: {app: kc2}}\n    spec:\n'
                        '      containers: [{name: c, image: "registry.k8s.io/pause:3.9"}]\n')
    code, out = kc('apply', '-f', str(manifest))
    assert code == 0 and 'deployment.apps/kc2 created' in out, out
    watcher = subprocess.Popen([KUBECTL, *flags, 'get', 'deploy', '-w'], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        for name in ('kc1', 'kc2'):
            code, out = kc('rollout', 'status', 'deployment/' + name, '--timeout=30s', timeout=40)
            assert code == 0 and 'successfully rolled out' in out, out
        code, out = kc('get', 'deployments')
        assert code == 0 and out.split('\n')[0].split() == ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']
        assert any(l.split()[:2] == ['kc1', '3/3'] for l in out.splitlines()), out
        code, out = kc('scale', 'deployment', 'kc2', '--replicas=4')
        assert code == 0, out
        code, out = kc('rollout', 'status', 'deployment/kc2', '--timeout=30s', timeout=40)
        assert code == 0, out
        code, out = kc('get', 'pods', '-l', 'app=kc2')
        assert code == 0 and len(out.strip().splitlines()) == 5, out
        code, out = kc('delete', 'deployment', 'kc1')
        assert code == 0 and 'deployment.apps "kc1" deleted' in out, out
        code, out = kc('delete', 'deployment', 'kc2', '--cascade=foreground')
        assert code == 0, out
        code, out = kc('get', 'deployments')
        assert code == 0 and 'No resources found' in out, out
    finally:
        watcher.terminate()
        wout = watcher.communicate(timeout=10)[0]
    assert 'kc1' in wout and '3/3' in wout, wout


def test_chunk_framing_knobs(sim):
    sim.admin('bulk-create', {'prefix': 'c', 'count': 20})
    code, hdrs, body = sim.raw('GET', DEPLOYS)
    assert code == 200 and hdrs.get('transfer-encoding') == 'chunked'      # big bodies: chunked, like Go
    assert len(json.loads(body)['items']) == 20
    code, hdrs, body = sim.raw('GET', DEPLOYS + '/c-00000')
    assert code == 200 and 'content-length' in hdrs
    sim.knobs(chunk_max=7, chunk_extensions=True, chunk_coalesce=True)
    code, hdrs, body = sim.raw('GET', DEPLOYS)
    assert code == 200 and len(json.loads(body)['items']) == 20
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=1&resourceVersion=0')
    try:
        evs = sim.read_events(r)
        assert [e['type'] for e in evs][:20] == ['ADDED'] * 20     # then maybe the controller's MODIFIEDs
    finally:
        c.close()


def test_orphan_delete_keeps_pods(sim):
    sim.deployment('orph', replicas=2)
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'orph')), what='rollout')
    code, _ = sim.api('DELETE', DEPLOYS + '/orph', {'propagationPolicy': 'Orphan'})
    assert code == 200
    sim.wait_for(lambda: get_dep(sim, 'orph') is None, what='deployment gone')
    pods = sim.api('GET', PODS)[1]['items']
    assert len(pods) == 2 and all('ownerReferences' not in p['metadata'] for p in pods)


def test_churn_generates_modified_events(sim):
    sim.admin('bulk-create', {'prefix': 'ch', 'count': 3})
    code, lst = sim.api('GET', DEPLOYS)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=10&resourceVersion=' + lst['metadata']['resourceVersion'])
    try:
        assert sim.admin('churn', {'prefix': 'ch', 'count': 50})['events'] == 50
        evs = sim.read_events(r, until=lambda e: e['object']['metadata'].get('annotations', {}).get(
            'kubesim.dev/churn') == '49')
        churned = [e for e in evs if 'kubesim.dev/churn' in e['object']['metadata'].get('annotations', {})]
        assert len(churned) == 50 and all(e['type'] == 'MODIFIED' for e in churned)
    finally:
        c.close()


def test_connection_lifetime_knobs(sim):
    sim.knobs(max_requests_per_conn=2)
    c = sim.connection()
    try:
        code, h1, _ = sim.raw('GET', DEPLOYS, conn=c)
        code, h2, _ = sim.raw('GET', DEPLOYS, conn=c)
        assert h1.get('connection') != 'close' and h2.get('connection') == 'close'
    finally:
        c.close()
    sim.knobs(max_requests_per_conn=0, idle_close_s=0.2)
    with socket.create_connection(('127.0.0.1', sim.port), timeout=5) as raw:
        with sim.ssl_context().wrap_socket(raw, server_hostname='kubernetes.default.svc') as s:
            s.sendall(b'GET /version HTTP/1.1\r\nHost: x\r\n\r\n')
            data = b''
            while True:                   # the server closes after the idle timeout: read to EOF
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b'HTTP/1.1 200')


def test_compaction_expires_even_a_caught_up_rv(sim):
    sim.deployment('cu', replicas=0)
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'cu')), what='controller done with cu')
    code, lst = sim.api('GET', DEPLOYS)
    rv = lst['metadata']['resourceVersion']
    sim.admin('compact', {})
    code, st = sim.api('GET', DEPLOYS + '?watch=1&timeoutSeconds=1&resourceVersion=' + rv)
    assert st['type'] == 'ERROR' and st['object']['code'] == 410
    code, lst2 = sim.api('GET', DEPLOYS)              # a fresh list can be watched from
    assert int(lst2['metadata']['resourceVersion']) > int(rv)
    code, hdrs, body = sim.raw('GET', DEPLOYS + '?watch=1&timeoutSeconds=1&resourceVersion='
                               + lst2['metadata']['resourceVersion'])
    assert code == 200 and b'ERROR' not in body
    # In HTTP-410 mode, a compaction ends open watches cleanly and the re-watch gets the 410.
    sim.knobs(watch_gone_as_http=True)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + lst2['metadata']['resourceVersion'])
    try:
        sim.admin('compact', {'kill_watches': True})
        assert sim.read_events(r) == []
    finally:
        c.close()
    code, st = sim.api('GET', DEPLOYS + '?watch=1&resourceVersion=' + lst2['metadata']['resourceVersion'])
    assert code == 410 and st['reason'] == 'Expired'


class PyInformer:
    """A minimal list+watch client, to check kubesim's own consistency under every fault at once:
    after the faults stop, its cache must equal the store, and no watch may replay an event at or below
    the resourceVersion it was started from."""

    def __init__(self, sim, path):
        self.sim, self.path = sim, path
        self.cache, self.rv = {}, None
        self.relists = self.rewatches = self.replays = 0

    def _get(self, url, timeout=10):
        import http.client
        for _ in range(200):
            try:
                code, hdrs, body = self.sim.raw('GET', url, timeout=timeout)
            except (OSError, http.client.HTTPException, ssl.SSLError):
                continue
            if code in (429, 500, 503):
                time.sleep(0.01)    # backs off after an injected fault, inside a bounded retry loop
                continue
            return code, json.loads(body)
        raise AssertionError('kept failing: ' + url)

    def relist(self):
        self.relists += 1
        cache, tok = {}, None
        while True:
            code, page = self._get(self.path + '?limit=7' + ('&continue=' + tok if tok else ''))
            if code == 410:
                cache, tok = {}, None
                continue
            assert code == 200, page
            for o in page['items']:
                cache[o['metadata']['name']] = o['metadata']['resourceVersion']
            tok = page['metadata'].get('continue')
            if not tok:
                break
        self.cache, self.rv = cache, page['metadata']['resourceVersion']

    def watch_once(self, seconds):
        """One watch; returns when it ends (timeout, cut, 410)."""
        import http.client
        try:
            c, r = self.sim.watch(self.path + '?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s'
                                  % (seconds, self.rv), timeout=seconds + 5)
        except (OSError, http.client.HTTPException, ssl.SSLError):
            return
        self.rewatches += 1
        start_rv = int(self.rv)
        try:
            if r.status == 410:
                return self.relist()
            if r.status != 200:
                return
            buf = b''
            while True:
                data = r.read1(65536)
                if not data:
                    return
                buf += data
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    ev = json.loads(line)
                    o = ev['object']
                    if ev['type'] == 'ERROR':
                        assert o['code'] == 410, o
                        return self.relist()
                    rv = o['metadata']['resourceVersion']
                    if int(rv) <= start_rv:
                        self.replays += 1
                    if ev['type'] in ('ADDED', 'MODIFIED'):
                        self.cache[o['metadata']['name']] = rv
                    elif ev['type'] == 'DELETED':
                        self.cache.pop(o['metadata']['name'], None)
                    self.rv = rv
        except (OSError, http.client.HTTPException, ssl.SSLError, ValueError):
            return
        finally:
            c.close()


def test_python_informer_converges_under_all_faults(sim):
    sim.admin('bulk-create', {'prefix': 'inf', 'count': 20, 'replicas': 1})
    inf = PyInformer(sim, DEPLOYS)
    inf.relist()
    stop = time.time() + 4
    faults = dict(watch_drop_rate=0.05, watch_drop_after_s=0.7, expire_every_s=0.9, error_5xx_rate=0.1,
                  error_429_rate=0.1, retry_after_s=0, split_writes=True, split_max=50, chunk_max=100)
    sim.knobs(**faults)
    done = threading.Event()
    errors = []

    def churn():
        try:
            churn_loop()
        except Exception as e:        # surfaces in the main thread's assertion below
            errors.append(e)

    def churn_loop():
        i = 0
        while not done.is_set():
            sim.admin('churn', {'prefix': 'inf', 'count': 5})
            sim.admin('bulk-create', {'prefix': 'more%d' % i, 'count': 1, 'replicas': 1})
            if i % 3 == 0 and i // 3 < 10:
                sim.admin('delete', {'name': 'inf-%05d' % (i // 3)})
            i += 1
            time.sleep(0.05)    # paces the churn, not a wait
    t = threading.Thread(target=churn, daemon=True)
    t.start()
    try:
        while time.time() < stop:
            inf.watch_once(2)
    finally:
        done.set()
        t.join(10)
    sim.knobs(watch_drop_rate=0, watch_drop_after_s=0, expire_every_s=0, error_5xx_rate=0, error_429_rate=0,
              split_writes=False, chunk_max=0)
    sim.admin('churn', {'prefix': 'inf', 'count': 3})

    def store():
        return {d['metadata']['name']: d['metadata']['resourceVersion']
                for d in sim.state('deployments')['deployments']}
    deadline = time.time() + 20
    while inf.cache != store() and time.time() < deadline:
        inf.watch_once(1)
    assert not errors
    assert inf.cache == store()
    assert inf.replays == 0
    assert inf.relists > 1 and inf.rewatches > 2


def test_abandoned_watch_is_noticed(sim):
    code, lst = sim.api('GET', DEPLOYS)
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=60&resourceVersion=' + lst['metadata']['resourceVersion'])
    sim.wait_for(lambda: sim.admin('stats').get('active_watches') == 1, what='watch open')
    c.close()
    sim.wait_for(lambda: sim.admin('stats').get('active_watches') == 0, timeout=10, what='watch noticed gone')


def test_label_validation_and_long_names(sim):
    long = 'x' * 64
    code, st = sim.deployment(long)          # the name is fine (253), its label value is not (63)
    assert code == 422 and st['reason'] == 'Invalid'
    assert 'must be no more than 63 characters' in st['message']
    assert {c['field'] for c in st['details']['causes']} == {
        'metadata.labels', 'spec.selector.matchLabels', 'spec.template.metadata.labels'}
    code, st = sim.deployment('badlabel', labels={'bad key': 'v'})
    assert code == 422 and 'name part must consist of alphanumeric characters' in st['message']
    name = 'n' * 60
    code, _ = sim.deployment(name, replicas=1)
    assert code == 201
    sim.wait_for(lambda: rolled_out(get_dep(sim, name)), what='long-named rollout')
    pod = sim.api('GET', PODS)[1]['items'][0]
    assert len(pod['metadata']['name']) == 63 and pod['metadata']['generateName'] == name[:58]


def test_strategic_merge_patch_keeps_container_fields(sim):
    code, _ = sim.deployment('smp', replicas=0)
    code, d = sim.api('PATCH', DEPLOYS + '/smp', {'spec': {'template': {'spec': {
        '$setElementOrder/containers': [{'name': 'node'}],
        'containers': [{'name': 'node', 'image': 'registry.k8s.io/pause:3.10'}]}}}},
        headers={'Content-Type': 'application/strategic-merge-patch+json'})
    assert code == 200
    c = d['spec']['template']['spec']['containers']
    assert len(c) == 1 and c[0]['image'] == 'registry.k8s.io/pause:3.10'
    assert c[0]['terminationMessagePath'] == '/dev/termination-log' and d['metadata']['generation'] == 2


def test_rolling_update_respects_surge(sim):
    sim.knobs(ready_pace_ms=30)
    sim.deployment('roll', replicas=4)
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'roll')), what='first rollout')
    code, lst = sim.api('GET', PODS)
    c, r = sim.watch(PODS + '?watch=1&timeoutSeconds=30&resourceVersion=' + lst['metadata']['resourceVersion'])
    try:
        code, d = sim.api('PATCH', DEPLOYS + '/roll', {'spec': {'template': {'metadata': {'annotations': {
            'kubectl.kubernetes.io/restartedAt': 'now'}}}}},
            headers={'Content-Type': 'application/merge-patch+json'})
        assert code == 200
        sim.wait_for(lambda: rolled_out(get_dep(sim, 'roll')), what='second rollout')
        live, peak, deleted = len(lst['items']), 0, 0
        while deleted < 4:          # every old pod replaced
            e = json.loads(r.readline())
            live += {'ADDED': 1, 'DELETED': -1}.get(e['type'], 0)
            deleted += e['type'] == 'DELETED'
            peak = max(peak, live)
        assert live == 4 and peak == 5      # 4 replicas + maxSurge 25% (rounded up: 1)
    finally:
        c.close()


def test_strict_namespaces(sim):
    assert sim.deployment('anywhere', replicas=0, ns='elsewhere')[0] == 201      # lenient by default
    sim.knobs(strict_namespaces=True)
    code, st = sim.deployment('nowhere', replicas=0, ns='missing')
    assert code == 404 and st['message'] == 'namespaces "missing" not found'
    assert sim.api('GET', '/api/v1/namespaces/missing')[0] == 404
    assert sim.api('GET', '/api/v1/namespaces/default')[0] == 200
    sim.knobs(extra_namespaces=['missing'])
    assert sim.deployment('nowhere', replicas=0, ns='missing')[0] == 201


def test_http11_without_host_is_refused_like_go(sim):
    with socket.create_connection(('127.0.0.1', sim.port), timeout=5) as raw:
        with sim.ssl_context().wrap_socket(raw, server_hostname='kubernetes.default.svc') as s:
            s.sendall(b'GET /version HTTP/1.1\r\n\r\n')
            data = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b'HTTP/1.1 400') and b'missing required Host header' in data


def test_settle(sim):
    sim.admin('bulk-create', {'prefix': 's', 'count': 200, 'replicas': 1})
    assert sim.settle(20)
    assert sim.admin('stats')['controller_busy'] == 0
    rv = sim.state()['resourceVersion']
    time.sleep(0.2)     # an observation window for a negative (nothing moves), not a wait for something
    assert sim.state()['resourceVersion'] == rv          # nothing moves by itself once settled
    d = sim.state('deployments')['deployments'][0]
    assert d['status']['availableReplicas'] == 1


SVCS = '/api/v1/namespaces/default/services'


def headless(name, owner_uid=None, ports=()):
    md = {'name': name, 'labels': {'cplane.dev/cluster': name}}
    if owner_uid:
        md['ownerReferences'] = [{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': name, 'uid': owner_uid,
                                  'controller': True, 'blockOwnerDeletion': True}]
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': md,
            'spec': {'clusterIP': 'None', 'selector': {'cplane.dev/cluster': name}, 'publishNotReadyAddresses': True,
                     'ports': [{'name': n, 'port': p} for n, p in ports]}}


def test_services_create_get_list_delete(sim):
    code, svc = sim.api('POST', SVCS, headless('peers', ports=[('http', 80)]))
    assert code == 201 and svc['spec']['clusterIP'] == 'None' and svc['metadata']['uid']
    assert sim.api('POST', SVCS, headless('peers'))[0] == 409
    code, st = sim.api('POST', SVCS, headless('1bad'))
    assert code == 422 and 'DNS-1035' in st['message']
    code, st = sim.api('POST', SVCS, headless('badport', ports=[('http', 0)]))
    assert code == 422
    code, got = sim.api('GET', SVCS + '/peers')
    assert code == 200 and got['spec']['publishNotReadyAddresses'] is True
    code, lst = sim.api('GET', SVCS + '?labelSelector=cplane.dev%2Fcluster%3Dpeers')
    assert code == 200 and lst['kind'] == 'ServiceList' and [s['metadata']['name'] for s in lst['items']] == ['peers']
    assert sim.api('DELETE', SVCS + '/peers')[0] == 200
    assert sim.api('GET', SVCS + '/peers')[0] == 404
    assert sim.api('DELETE', SVCS + '/peers')[0] == 404


@pytest.mark.parametrize('policy', ['Foreground', 'Background'])
def test_service_goes_with_its_owner(sim, policy):
    sim.knobs(ready_pace_ms=5)
    code, d = sim.deployment('own', replicas=2)
    assert code == 201
    assert sim.api('POST', SVCS, headless('own', d['metadata']['uid']))[0] == 201
    assert sim.api('POST', SVCS, headless('stray'))[0] == 201          # owned by nothing: stays
    code, lst = sim.api('GET', SVCS)
    c, r = sim.watch(SVCS + '?watch=1&timeoutSeconds=30&resourceVersion=' + lst['metadata']['resourceVersion'])
    try:
        assert sim.api('DELETE', DEPLOYS + '/own', {'kind': 'DeleteOptions', 'apiVersion': 'v1',
                                                    'propagationPolicy': policy})[0] == 200
        sim.wait_for(lambda: sim.api('GET', DEPLOYS + '/own')[0] == 404, what='the Deployment gone')
        # By the time the Deployment is gone, so is the Service it owns.
        assert sim.api('GET', SVCS + '/own')[0] == 404
        e = json.loads(r.readline())
        assert e['type'] == 'DELETED' and e['object']['metadata']['name'] == 'own'
    finally:
        c.close()
    assert sim.api('GET', SVCS + '/stray')[0] == 200


def test_merge_patch_rollout_climbs_updated_replicas(sim):
    sim.knobs(ready_pace_ms=40)
    sim.deployment('climb', replicas=4)
    sim.wait_for(lambda: rolled_out(get_dep(sim, 'climb')), what='first rollout')
    code, d0 = sim.api('GET', DEPLOYS + '/climb')
    c, r = sim.watch(DEPLOYS + '?watch=1&timeoutSeconds=30&resourceVersion=' + d0['metadata']['resourceVersion'])
    try:
        code, d = sim.api('PATCH', DEPLOYS + '/climb', {'spec': {'template': {'spec': {'containers': [
            {'name': 'c', 'image': 'registry.k8s.io/pause:3.10'}]}}}},
            headers={'Content-Type': 'application/merge-patch+json'})
        assert code == 200 and d['metadata']['generation'] == 2
        seen = []
        while True:
            o = json.loads(r.readline())['object']
            st = o.get('status', {})
            if st.get('observedGeneration') == 2:      # the new template's rollout, as the controller saw it
                seen.append(st.get('updatedReplicas', 0))
            if rolled_out(o) and o['metadata']['generation'] == 2 and st.get('observedGeneration') == 2:
                break
    finally:
        c.close()
    assert seen == sorted(seen) and seen[-1] == 4 and len(set(seen)) >= 3, seen   # climbing, not jumping
