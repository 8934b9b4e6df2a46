"""kubesim request routing: auth, fault injection, resources, watches, discovery and admin endpoints.

Mixed into the BaseHTTPRequestHandler subclass in kubesim.py, which supplies
out(), abort(), send_json(), send_error_status(), read_body().
"""

import calendar
import json
import random
import re
import select
import ssl
import time
import traceback
import uuid
from urllib.parse import urlsplit, parse_qs

import kubesim_auth
import kubesim_proto
from kubesim_store import (Filter, ApiError, RESOURCES, not_found, bad_request, expired, err_details,
                           qualified, now_rfc3339, api_version)

VERBS_ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

RES_PATH = re.compile(r'^/(?:api/v1|apis/(apps)/v1)/(?:namespaces/([^/]+)/)?(deployments|pods|services)(?:/([^/]+))?'
                      r'(?:/(status|scale))?/?$')
EVENTS_PATH = re.compile(r'^/api/v1/(?:namespaces/([^/]+)/)?events(?:/([^/]+))?/?$')
NS_PATH = re.compile(r'^/api/v1/namespaces(?:/([^/]+))?/?$')
NODE_PATH = re.compile(r'^/api/v1/nodes(?:/([^/]+))?/?$')

DISCOVERY = {
    '/api/v1': {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': [
        {'name': 'namespaces', 'singularName': 'namespace', 'namespaced': False, 'kind': 'Namespace',
         'verbs': ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], 'shortNames': ['ns']},
        {'name': 'nodes', 'singularName': 'node', 'namespaced': False, 'kind': 'Node',
         'verbs': VERBS_ALL, 'shortNames': ['no']},
        {'name': 'pods', 'singularName': 'pod', 'namespaced': True, 'kind': 'Pod', 'verbs': VERBS_ALL,
         'shortNames': ['po'], 'categories': ['all']},
        {'name': 'pods/status', 'singularName': '', 'namespaced': True, 'kind': 'Pod',
         'verbs': ['get', 'patch', 'update']},
    ]},
    '/apis/apps/v1': {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': 'apps/v1', 'resources': [
        {'name': 'deployments', 'singularName': 'deployment', 'namespaced': True, 'kind': 'Deployment',
         'verbs': VERBS_ALL, 'shortNames': ['deploy'], 'categories': ['all']},
        {'name': 'deployments/status', 'singularName': '', 'namespaced': True, 'kind': 'Deployment',
         'verbs': ['get', 'patch', 'update']},
        {'name': 'deployments/scale', 'singularName': '', 'namespaced': True, 'group': 'autoscaling',
         'version': 'v1', 'kind': 'Scale', 'verbs': ['get', 'patch', 'update']},
    ]},
}
OPENAPI_V3_ROOT = {'paths': {
    'api/v1': {'serverRelativeURL': '/openapi/v3/api/v1?hash=KUBESIM0000000000000000000000000000000000000000000000001'},
    'apis/apps/v1': {'serverRelativeURL':
                     '/openapi/v3/apis/apps/v1?hash=KUBESIM0000000000000000000000000000000000000000000000002'},
}}


def openapi_v3_doc(prefix, group, kinds):
    """Just enough OpenAPI v3 for kubectl: it looks for PATCH operations carrying the GVK extension and a
    fieldValidation query parameter; finding one, it leaves validation to the server (fieldValidation=Strict)
    instead of downloading schemas."""
    paths = {}
    for plural, kind in kinds:
        gvk = {'group': group, 'version': 'v1', 'kind': kind}
        params = [{'name': n, 'in': 'query', 'schema': {'type': 'string', 'uniqueItems': True}}
                  for n in ('dryRun', 'fieldManager', 'fieldValidation', 'force')]
        paths['%s/namespaces/{namespace}/%s/{name}' % (prefix, plural)] = {
            'patch': {'operationId': 'patch' + kind, 'x-kubernetes-action': 'patch',
                      'x-kubernetes-group-version-kind': gvk, 'parameters': params,
                      'responses': {'200': {'description': 'OK'}}}}
        paths['%s/namespaces/{namespace}/%s' % (prefix, plural)] = {
            'post': {'operationId': 'create' + kind, 'x-kubernetes-action': 'post',
                     'x-kubernetes-group-version-kind': gvk, 'parameters': params,
                     'responses': {'201': {'description': 'Created'}}}}
    return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes', 'version': 'v1.32.0'}, 'paths': paths,
            'components': {'schemas': {}}}


OPENAPI_V3 = {
    '/openapi/v3/api/v1': openapi_v3_doc('/api/v1', '', [('pods', 'Pod')]),
    '/openapi/v3/apis/apps/v1': openapi_v3_doc('/apis/apps/v1', 'apps', [('deployments', 'Deployment')]),
}

APPS_GROUP = {'name': 'apps', 'versions': [{'groupVersion': 'apps/v1', 'version': 'v1'}],
              'preferredVersion': {'groupVersion': 'apps/v1', 'version': 'v1'}}


TABLE_COLUMNS = {
    'deployments': [
        ('Name', 'string', 'Name must be unique within a namespace.', 0),
        ('Ready', 'string', 'Number of the pod with ready state', 0),
        ('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the '
         'desired template spec.', 0),
        ('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by '
         'this deployment.', 0),
        ('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was '
         'created.', 0),
        ('Containers', 'string', 'Names of each container in the template.', 1),
        ('Images', 'string', 'Images referenced by each container in the template.', 1),
        ('Selector', 'string', 'Label selector for pods.', 1)],
    'pods': [
        ('Name', 'string', 'Name must be unique within a namespace.', 0),
        ('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.', 0),
        ('Status', 'string', 'The aggregate status of the containers in this pod.', 0),
        ('Restarts', 'string', 'The number of times the containers in this pod have been restarted.', 0),
        ('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was '
         'created.', 0),
        ('IP', 'string', 'IP address allocated to the pod.', 1),
        ('Node', 'string', 'Name of the node this pod is scheduled on.', 1),
        ('Nominated Node', 'string', 'Name of the node this pod is nominated to run on.', 1),
        ('Readiness Gates', 'string', 'Readiness gates for the pod.', 1)],
}


def human_age(ts):
    if not ts:
        return '<unknown>'
    sec = int(time.time() - calendar.timegm(time.strptime(ts, '%Y-%m-%dT%H:%M:%SZ')))
    if sec < 0:
        return '<invalid>'
    if sec < 120:
        return '%ds' % sec
    m = sec // 60
    if m < 10:
        return '%dm%ds' % (m, sec % 60) if sec % 60 else '%dm' % m
    if m < 180:
        return '%dm' % m
    h = m // 60
    if h < 8:
        return '%dh%dm' % (h, m % 60) if m % 60 else '%dh' % h
    if h < 48:
        return '%dh' % h
    if h < 24 * 8:
        return '%dd%dh' % (h // 24, h % 24) if h % 24 else '%dd' % (h // 24)
    return '%dd' % (h // 24)


def table_cells(resource, o):
    md, spec, st = o['metadata'], o.get('spec', {}), o.get('status', {})
    if resource == 'deployments':
        cs = spec.get('template', {}).get('spec', {}).get('containers', [])
        ml = (spec.get('selector') or {}).get('matchLabels') or {}
        return [md['name'], '%d/%d' % (st.get('readyReplicas', 0), spec.get('replicas', 1)),
                st.get('updatedReplicas', 0), st.get('availableReplicas', 0), human_age(md.get('creationTimestamp')),
                ','.join(c.get('name', '') for c in cs), ','.join(c.get('image', '') for c in cs),
                ','.join('%s=%s' % kv for kv in sorted(ml.items()))]
    cs = st.get('containerStatuses') or []
    reason = st.get('phase', 'Pending')
    for c in cs:
        w = (c.get('state') or {}).get('waiting')
        if w and w.get('reason'):
            reason = w['reason']
    if md.get('deletionTimestamp'):
        reason = 'Terminating'
    return [md['name'], '%d/%d' % (sum(1 for c in cs if c.get('ready')), len(spec.get('containers', []))),
            reason, sum(c.get('restartCount', 0) for c in cs), human_age(md.get('creationTimestamp')),
            st.get('podIP', '<none>'), spec.get('nodeName', '<none>'), '<none>', '<none>']


def scale_of(d):
    md = d['metadata']
    ml = (d['spec'].get('selector') or {}).get('matchLabels') or {}
    return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
            'metadata': {k: md[k] for k in ('name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp')
                         if k in md},
            'spec': {'replicas': d['spec'].get('replicas', 1)},
            'status': {'replicas': d.get('status', {}).get('replicas', 0),
                       'selector': ','.join('%s=%s' % kv for kv in sorted(ml.items()))}}


def truthy(v):
    return v in ('1', 'true', 'True', 'yes')


class ApiMixin:
    faultable = False
    status_code = 0
    table_watch = None
    table_columns_sent = False
    query = {}

    # ------------------------------------------------------------ entry
    def dispatch(self, method):
        sim = self.server.sim
        self.faultable = False
        self.status_code = 0
        t0 = time.time()
        self.requests_on_conn = getattr(self, 'requests_on_conn', 0) + 1
        mx = int(sim.knobs.get('max_requests_per_conn') or 0)
        if mx and self.requests_on_conn >= mx:
            self.close_connection = True      # announced with Connection: close, as Go does
        try:
            if self.request_version == 'HTTP/1.1' and self.headers.get('Host') is None:
                # Go's net/http (so every real apiserver) refuses these before routing.
                self.close_connection = True
                return self.send_text(400, '400 Bad Request: missing required Host header')
            u = urlsplit(self.path)
            path = u.path
            q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
            self.query = q
            if path.startswith('/kubesim/') or path == '/kubesim':
                return self.admin(method, path, q)
            sim.count('requests')
            body = self.read_body() if method in ('POST', 'PUT', 'PATCH', 'DELETE') else b''
            self.faultable = True
            self.route(method, path, q, body)
        except ApiError as e:
            try:
                self.send_error_status(e)
            except Exception:
                self.close_connection = True
        except Exception as e:
            if type(e).__name__ == 'Abort' or isinstance(e, OSError):
                self.close_connection = True
                return
            traceback.print_exc()
            try:
                self.send_error_status(ApiError(500, 'InternalError', 'Internal error occurred: %r' % (e,)))
            except Exception:
                self.close_connection = True
        finally:
            if self.status_code:
                sim.count('code_%d' % self.status_code)
            sim.log_request(self.command, self.path, self.status_code, time.time() - t0,
                            self.close_connection)
            idle = float(sim.knobs.get('idle_close_s') or 0)
            try:
                self.connection.settimeout(idle if idle > 0 else self.timeout)
            except OSError:
                pass

    def authenticate(self, required=True):
        sim = self.server.sim
        h = self.headers.get('Authorization')
        if h is None:
            # A client certificate the CA signed (--client-cert-auth): its CN is the user.
            peer = getattr(self.connection, 'getpeercert', lambda: None)()
            cn = [v for rdn in (peer or {}).get('subject', ()) for k, v in rdn if k == 'commonName']
            if cn:
                sim.count('client_cert_requests')
                return
        if h is None and not required:
            return
        tok = h[7:].strip() if h and h[:7].lower() == 'bearer ' else None
        if tok is None or not sim.token_ok(tok):
            sim.count('unauthorized')
            raise ApiError(401, 'Unauthorized', 'Unauthorized')

    def inject_faults(self, is_watch, is_discovery):
        sim = self.server.sim
        k = sim.knobs
        d = float(k.get('delay_ms') or 0)
        if d > 0:
            time.sleep(d / 1000.0)    # the delay_ms fault (pacing the answer), not a wait
        if is_discovery and not k.get('faults_on_discovery'):
            return
        if is_watch and not k.get('faults_on_watch'):
            return
        r = random.random()
        p429 = float(k.get('error_429_rate') or 0)
        p5xx = float(k.get('error_5xx_rate') or 0)
        if r < p429:
            sim.count('fault_429')
            ra = int(k.get('retry_after_s', 1))
            raise ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.',
                           {'retryAfterSeconds': ra}, headers={'Retry-After': str(ra)})
        if r < p429 + p5xx:
            sim.count('fault_5xx')
            if random.random() < 0.5:
                raise ApiError(500, 'InternalError', 'Internal error occurred: kubesim injected fault',
                               {'causes': [{'message': 'kubesim injected fault'}]})
            raise ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request',
                           {'retryAfterSeconds': 1}, headers={'Retry-After': '1'})

    def authorize(self, verb, resource, ns, name):
        sim = self.server.sim
        deny = sim.knobs.get('deny') or []
        for rule in deny:
            rv, _, rr = str(rule).partition(' ')
            if rv in ('*', verb) and rr in ('*', '', resource):
                sim.count('forbidden')
                group = RESOURCES.get(resource, ('',))[0]
                what = qualified(resource) if resource in RESOURCES else resource
                if name:
                    what += ' "%s"' % name
                where = 'in the namespace "%s"' % ns if ns else 'at the cluster scope'
                msg = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
                    what, sim.knobs.get('user'), verb, resource, group, where)
                det = err_details(resource, name) if resource in RESOURCES else {'kind': resource}
                raise ApiError(403, 'Forbidden', msg, det)

    # ------------------------------------------------------------ routing
    def route(self, method, path, q, body):
        sim = self.server.sim
        if path in ('/healthz', '/livez', '/readyz', '/version'):
            self.authenticate(required=False)
            if path == '/version':
                return self.send_json(200, {'major': '1', 'minor': '32', 'gitVersion': 'v1.32.0-kubesim',
                                            'gitCommit': '0' * 40, 'gitTreeState': 'clean',
                                            'buildDate': '2026-01-01T00:00:00Z', 'goVersion': 'go1.23.0',
                                            'compiler': 'gc', 'platform': 'linux/amd64'})
            return self.send_text(200, 'ok')
        self.authenticate()
        if path in kubesim_auth.PATHS:
            if sim.knobs.get('faults_on_reviews'):
                self.inject_faults(False, False)
            if float(sim.knobs.get('review_delay_ms') or 0) > 0:
                time.sleep(float(sim.knobs['review_delay_ms']) / 1000.0)    # the review_delay_ms knob (pacing the answer), not a wait
            return sim.auth.review(self, method, path, body)
        m = EVENTS_PATH.match(path)
        if m:
            self.inject_faults(False, False)
            return self.events_api(method, m.group(1), m.group(2), body)
        m = RES_PATH.match(path)
        is_watch = bool(m) and method == 'GET' and truthy(q.get('watch', ''))
        self.inject_faults(is_watch, not m)
        if path == '/api':
            host = urlsplit(sim.url).netloc
            return self.send_json(200, {'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [
                {'clientCIDR': '0.0.0.0/0', 'serverAddress': host}]})
        if path == '/apis':
            return self.send_json(200, {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': [APPS_GROUP]})
        if path == '/apis/apps':
            return self.send_json(200, dict({'kind': 'APIGroup', 'apiVersion': 'v1'}, **APPS_GROUP))
        if path in DISCOVERY:
            return self.send_json(200, DISCOVERY[path])
        if path in ('/openapi/v3', '/openapi/v3/'):
            return self.send_json(200, OPENAPI_V3_ROOT)
        if path in OPENAPI_V3:
            return self.send_json(200, OPENAPI_V3[path])
        if m:
            group, ns, resource, name, sub = m.groups()
            if (resource == 'deployments') != (group == 'apps'):
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
            return self.resource(method, resource, ns, name, sub, q, body)
        m = NS_PATH.match(path)
        if m:
            return self.namespaces(method, m.group(1))
        m = NODE_PATH.match(path)
        if m:
            return self.nodes_api(method, m.group(1), q)
        raise ApiError(404, 'NotFound', 'the server could not find the requested resource', {})

    def send_text(self, code, text):
        body = text.encode()
        self.out(self.head_bytes(code, {'Content-Type': 'text/plain; charset=utf-8'}, len(body)) + body)
        self.status_code = code

    def parse_body(self, body):
        ct = (self.headers.get('Content-Type') or '').split(';')[0].strip()
        if ct == 'application/vnd.kubernetes.protobuf':
            try:
                return kubesim_proto.decode_body(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                               'accepted media types include: application/json, application/yaml (kubesim: %s)'
                               % e, {})
        try:
            return json.loads(body or b'{}')
        except ValueError as e:
            raise bad_request("couldn't get version/kind; json parse error: %s" % e)

    def resource(self, method, resource, ns, name, sub, q, body):
        sim = self.server.sim
        store = sim.store
        if method in ('GET', 'HEAD'):
            if name:
                self.authorize('get', resource, ns, name)
                with store.lock:
                    obj = store.get(resource, ns or '', name) if ns else None
                if obj is None:
                    raise not_found(resource, name)
                if sub == 'scale':
                    return self.send_json(200, scale_of(obj))
                if self.wants_table():
                    return self.send_json(200, self.table(resource, {
                        'metadata': {'resourceVersion': obj['metadata']['resourceVersion']}, 'items': [obj]}))
                return self.send_json(200, obj)
            if sub:
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                               'resource', {})
            watch = truthy(q.get('watch', ''))
            self.authorize('watch' if watch else 'list', resource, ns, None)
            flt = Filter(resource, ns, q.get('labelSelector', ''), q.get('fieldSelector', ''))
            if watch:
                return self.watch(resource, flt, q)
            try:
                limit = int(q.get('limit') or 0)
            except ValueError:
                raise bad_request('invalid limit: %s' % q.get('limit'))
            if self.wants_table():
                return self.send_json(200, self.table(resource, store.list(
                    resource, flt, limit, q.get('continue') or None, q.get('resourceVersion'))))
            return self.send_json(200, store.list(resource, flt, limit, q.get('continue') or None,
                                                  q.get('resourceVersion')))
        dry = q.get('dryRun') == 'All'
        if resource == 'deployments' and sub == 'scale' and name and ns and method in ('PUT', 'PATCH'):
            self.authorize('update' if method == 'PUT' else 'patch', 'deployments/scale', ns, name)
            req = self.parse_body(body)
            replicas = (req.get('spec') or {}).get('replicas') if isinstance(req, dict) else None
            if replicas is None:
                with store.lock:
                    cur = store.get('deployments', ns, name)
                if cur is None:
                    raise not_found('deployments', name)
                return self.send_json(200, scale_of(cur))
            rv = (req.get('metadata') or {}).get('resourceVersion') if method == 'PUT' else None
            patch = {'spec': {'replicas': replicas}}
            if rv:
                patch['metadata'] = {'resourceVersion': rv}
            return self.send_json(200, scale_of(store.patch_deployment(ns, name, patch)))
        if resource == 'services' and ns and not sub:
            if method == 'POST' and not name:
                self.authorize('create', resource, ns, None)
                return self.send_json(201, store.create_service(ns, self.parse_body(body)))
            if method == 'DELETE' and name:
                self.authorize('delete', resource, ns, name)
                return self.send_json(200, store.delete_service(ns, name))
        if resource != 'deployments' or sub:
            if resource == 'pods' and method == 'DELETE' and name and not sub:
                self.authorize('delete', resource, ns, name)
                with store.lock:
                    pod = store.get('pods', ns or '', name)
                    if pod is None:
                        raise not_found('pods', name)
                    owner = (store.pside.get(pod['metadata']['uid']) or {}).get('owner')
                    final = store.delete_pod(pod)
                    for key, d in store.objs['deployments'].items():
                        if d['metadata']['uid'] == owner:
                            store.active.add(key)
                return self.send_json(200, final)
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})
        if not ns:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})
        if method == 'POST' and not name:
            self.authorize('create', resource, ns, None)
            if sim.knobs.get('strict_namespaces') and ns not in self.known_namespaces():
                raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % ns, {'name': ns, 'kind': 'namespaces'})
            obj = store.create_deployment(ns, self.parse_body(body), q.get('fieldManager') or 'unknown', dry)
            with sim.stats_lock:
                drop = int(sim.knobs.get('drop_after_create') or 0) > 0 and not dry
                if drop:
                    sim.knobs['drop_after_create'] = int(sim.knobs['drop_after_create']) - 1
            if drop:
                # The POST took effect but its answer never comes: the client cannot know.
                sim.count('dropped_after_create')
                raise OSError('connection dropped after create (fault knob)')
            return self.send_json(201, obj)
        if not name:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})
        if method == 'PUT':
            self.authorize('update', resource, ns, name)
            return self.send_json(200, store.update_deployment(ns, name, self.parse_body(body)))
        if method == 'PATCH':
            self.authorize('patch', resource, ns, name)
            ct = (self.headers.get('Content-Type') or '').split(';')[0].strip()
            if ct == 'application/json-patch+json':
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                               'accepted media types include: application/merge-patch+json, '
                               'application/strategic-merge-patch+json')
            req = self.parse_body(body)
            with sim.stats_lock:
                sim.patches = (sim.patches + [{'name': name, 'content_type': ct, 'body': req}])[-100:]
            return self.send_json(200, store.patch_deployment(
                ns, name, req, strategic=ct == 'application/strategic-merge-patch+json'))
        if method == 'DELETE':
            self.authorize('delete', resource, ns, name)
            opts = self.parse_body(body) if body.strip() else {}
            policy = q.get('propagationPolicy') or opts.get('propagationPolicy')
            if policy is None and 'orphanDependents' in opts:
                policy = 'Orphan' if opts['orphanDependents'] else 'Background'
            if dry or opts.get('dryRun') == ['All']:
                with store.lock:
                    obj = store.get('deployments', ns, name)
                if obj is None:
                    raise not_found('deployments', name)
                return self.send_json(200, obj)
            with store.lock:
                cur = store.get('deployments', ns, name)
                uid = cur['metadata']['uid'] if cur else ''
                code, obj = store.delete_deployment(ns, name, policy, opts.get('preconditions'))
            if obj is None:
                return self.send_json(200, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
                                            'status': 'Success',
                                            'details': dict(err_details('deployments', name), uid=uid)})
            return self.send_json(code, obj)
        raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource',
                       {})

    # ------------------------------------------------------------ events (core/v1)
    def events_api(self, method, ns, name, body):
        sim = self.server.sim
        store = sim.store
        if method in ('GET', 'HEAD'):
            self.authorize('get' if name else 'list', 'events', ns, name)
            with store.lock:
                if name:
                    ev = sim.events.get((ns, name))
                    if ev is None:
                        raise ApiError(404, 'NotFound', 'events "%s" not found' % name,
                                       {'name': name, 'kind': 'events'})
                    return self.send_json(200, ev)
                items = [e for (n, _), e in sorted(sim.events.items()) if ns is None or n == ns]
            return self.send_json(200, {'kind': 'EventList', 'apiVersion': 'v1',
                                        'metadata': {'resourceVersion': str(getattr(sim, 'event_rv', 0))},
                                        'items': items})
        if not ns:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})
        if method == 'POST' and not name:
            self.authorize('create', 'events', ns, None)
            ev = self.parse_body(body)
            meta = ev.setdefault('metadata', {})
            name = meta.get('name') or ''
            if not name or (meta.get('namespace') or ns) != ns or not isinstance(ev.get('involvedObject'), dict):
                raise bad_request('Event needs metadata.name, this namespace and involvedObject')
            with store.lock:
                if (ns, name) in sim.events:
                    raise ApiError(409, 'AlreadyExists', 'events "%s" already exists' % name,
                                   {'name': name, 'kind': 'events'})
                sim.event_rv = getattr(sim, 'event_rv', 0) + 1     # own counter: Deployment watches never see these
                meta.update({'namespace': ns, 'uid': str(uuid.uuid4()), 'resourceVersion': str(sim.event_rv),
                             'creationTimestamp': now_rfc3339()})
                sim.events[(ns, name)] = ev
            sim.count('event_writes')
            return self.send_json(201, ev)
        if method == 'PATCH' and name:
            self.authorize('patch', 'events', ns, name)
            ct = (self.headers.get('Content-Type') or '').split(';')[0].strip()
            if ct not in ('application/merge-patch+json', 'application/strategic-merge-patch+json'):
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format')
            req = self.parse_body(body)
            with store.lock:
                ev = sim.events.get((ns, name))
                if ev is None:
                    raise ApiError(404, 'NotFound', 'events "%s" not found' % name, {'name': name, 'kind': 'events'})
                for k, v in req.items():
                    if k != 'metadata':
                        ev[k] = v
                sim.event_rv = getattr(sim, 'event_rv', 0) + 1
                ev['metadata']['resourceVersion'] = str(sim.event_rv)
            sim.count('event_writes')
            return self.send_json(200, ev)
        raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource',
                       {})

    # ------------------------------------------------------------ watch
    def watch_event_bytes(self, typ, obj):
        if self.table_watch and typ in ('ADDED', 'MODIFIED', 'DELETED'):
            obj = self.table(self.table_watch, {'metadata': {'resourceVersion': obj['metadata']['resourceVersion']},
                                                'items': [obj]}, with_columns=not self.table_columns_sent)
            self.table_columns_sent = True
        return json.dumps({'type': typ, 'object': obj}, separators=(',', ':')).encode() + b'\n'

    def watch(self, resource, flt, q):
        sim = self.server.sim
        store = sim.store
        k = sim.knobs
        rv_s = q.get('resourceVersion', '')
        try:
            timeout = float(q.get('timeoutSeconds') or 0)
            if timeout <= 0:
                timeout = float(k.get('default_watch_timeout_s', 1800)) * random.uniform(1, 2)
        except ValueError:
            raise bad_request('invalid timeoutSeconds')
        bookmarks = truthy(q.get('allowWatchBookmarks', ''))
        self.table_watch = resource if self.wants_table() else None
        self.table_columns_sent = False
        send_initial = truthy(q.get('sendInitialEvents', ''))
        initial = []
        gone_msg = None
        with store.lock:
            if rv_s in ('', '0') or send_initial:
                if rv_s not in ('', '0') and int(rv_s) < store.min_rv:
                    gone_msg = 'too old resource version: %s (%d)' % (rv_s, store.min_rv)
                initial = [o for _, o in sorted(store.objs[resource].items()) if flt.match(o)]
                seq = store.end_seq()
                initial_rv = store.rv
            else:
                try:
                    rv = int(rv_s)
                except ValueError:
                    raise bad_request('invalid resource version: %s' % rv_s)
                seq = store.seq_after(rv)
                if seq is None:
                    gone_msg = 'too old resource version: %d (%d)' % (rv, store.min_rv)
            epochs = (store.expire_epoch, store.drop_epoch)
        if gone_msg and k.get('watch_gone_as_http'):
            sim.count('watch_gone')
            raise expired(gone_msg)
        self.out(self.head_bytes(200, None, chunked=True))
        self.status_code = 200
        sim.count('watches')
        if gone_msg:
            sim.count('watch_gone')
            return self.watch_end(self.gone_event(gone_msg))
        with sim.stats_lock:
            sim.active_watches += 1
        try:
            self.watch_stream(resource, flt, store, k, seq, epochs, initial, initial_rv if initial or send_initial
                              else None, timeout, bookmarks, send_initial)
        finally:
            with sim.stats_lock:
                sim.active_watches -= 1

    def gone_event(self, msg):
        return self.watch_event_bytes('ERROR', {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
                                                'status': 'Failure', 'message': msg, 'reason': 'Expired',
                                                'code': 410})

    def watch_end(self, last=b''):
        self.out((self.chunk(last) if last else b'') + self.last_chunk())

    def send_event(self, *lines):
        """Sends watch event lines (each one chunk, or all in one with chunk_coalesce); may cut the stream."""
        sim = self.server.sim
        if not lines:
            return
        if sim.knobs.get('chunk_coalesce'):
            data = self.chunk(b''.join(lines))
        else:
            data = b''.join(self.chunk(line) for line in lines)
        rate = float(sim.knobs.get('watch_drop_rate') or 0)
        if rate and random.random() < 1 - (1 - rate) ** len(lines):
            sim.count('fault_watch_drops')
            cut = random.randint(0, len(data) - 1) if random.random() < 0.5 else 0
            self.abort(data[:cut])
        self.out(data)
        sim.count('watch_events', len(lines))

    def bookmark(self, resource, rv, initial_end=False):
        g, v, kind, _ = RESOURCES[resource]
        md = {'resourceVersion': str(rv), 'creationTimestamp': None}
        if initial_end:
            md['annotations'] = {'k8s.io/initial-events-end': 'true'}
        # The real apiserver serialises an otherwise empty object, nulls and all.
        if resource == 'deployments':
            body = {'spec': {'selector': None, 'template': {'metadata': {'creationTimestamp': None},
                                                            'spec': {'containers': None}}, 'strategy': {}},
                    'status': {}}
        else:
            body = {'spec': {'containers': None}, 'status': {}}
        return self.watch_event_bytes('BOOKMARK', dict({'kind': kind, 'apiVersion': api_version(resource),
                                                        'metadata': md}, **body))

    def watch_stream(self, resource, flt, store, k, seq, epochs, initial, initial_rv, timeout, bookmarks,
                     send_initial):
        sim = self.server.sim
        start = time.time()
        deadline = start + timeout
        drop_after = float(k.get('watch_drop_after_s') or 0)
        drop_at = start + drop_after * random.uniform(0.5, 1.5) if drop_after > 0 else None
        interval = max(0.05, float(k.get('bookmark_interval_s') or 2.0))
        next_bm = start + interval
        next_peer = start + 1.0
        self.send_event(*[self.watch_event_bytes('ADDED', o) for o in initial])
        if send_initial and bookmarks:
            self.send_event(self.bookmark(resource, initial_rv, initial_end=True))
        while True:
            with store.lock:
                while True:
                    if store.expire_epoch != epochs[0]:
                        sim.count('fault_watch_expired')
                        evs = 'expired'
                        break
                    if store.drop_epoch != epochs[1]:
                        evs = 'drop'
                        break
                    evs = store.events_from(seq)
                    if evs is None:
                        evs = 'expired'
                        break
                    if evs:
                        break
                    now = time.time()
                    wake = min(deadline, next_bm if bookmarks else deadline, drop_at or deadline, next_peer)
                    if now >= wake:
                        break
                    store.cond.wait(min(wake - now, 1.0))
                caught_up_rv = store.rv if (isinstance(evs, list) and seq + len(evs) == store.end_seq()) else None
                min_rv = store.min_rv
                last_rv = store.log_rvs[seq - store.log_first_seq - 1] \
                    if 0 < seq - store.log_first_seq <= len(store.log_rvs) else min_rv - 1
            if evs == 'expired':
                if k.get('watch_gone_as_http'):
                    # End the stream cleanly: the client's re-watch from its RV then meets an HTTP 410.
                    return self.watch_end()
                return self.watch_end(self.gone_event('too old resource version: %d (%d)' % (last_rv, min_rv)))
            if evs == 'drop':
                sim.count('fault_watch_drops')
                self.abort()
            lines = []
            for ev in evs:
                out = self.filter_event(resource, flt, ev)
                if out is not None:
                    lines.append(self.watch_event_bytes(*out))
            self.send_event(*lines)
            seq += len(evs)
            now = time.time()
            if now >= deadline:
                return self.watch_end()
            if drop_at is not None and now >= drop_at:
                sim.count('fault_watch_drops')
                self.abort()
            if bookmarks and now >= next_bm and caught_up_rv is not None:
                self.send_event(self.bookmark(resource, caught_up_rv))
                next_bm = now + interval
            if now >= next_peer:
                next_peer = now + 1.0
                if self.peer_gone():
                    self.close_connection = True
                    return

    def peer_gone(self):
        """A quiet watch would otherwise hold its thread until timeoutSeconds after the client left."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            saved = self.connection.gettimeout()
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1) == b''
            finally:
                self.connection.settimeout(saved)
        except ssl.SSLWantReadError:
            return False
        except (OSError, ValueError):
            return True

    @staticmethod
    def filter_event(resource, flt, ev):
        rv, res, ns, typ, obj, prev = ev
        if res != resource:
            return None
        if typ == 'MODIFIED' and prev is not None:
            mn, mo = flt.match(obj), flt.match(prev)
            if mn and mo:
                return 'MODIFIED', obj
            if mn:
                return 'ADDED', obj
            if mo:
                return 'DELETED', obj
            return None
        if typ == 'DELETED':
            return ('DELETED', obj) if flt.match(prev if prev is not None else obj) else None
        return (typ, obj) if flt.match(obj) else None

    # ------------------------------------------------------------ Table output (kubectl get)
    def wants_table(self):
        return 'as=Table' in (self.headers.get('Accept') or '')

    def table(self, resource, lst, with_columns=True):
        """Server-side printing, as kubectl get asks for it (Accept: application/json;as=Table;...)."""
        include = self.query.get('includeObject') or 'Metadata'
        cols = TABLE_COLUMNS[resource]
        rows = []
        for o in lst['items']:
            if include == 'Object':
                ref = dict({'kind': RESOURCES[resource][2], 'apiVersion': api_version(resource)}, **o)
            elif include == 'None':
                ref = None
            else:
                ref = {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1', 'metadata': o['metadata']}
            row = {'cells': table_cells(resource, o)}
            if ref is not None:
                row['object'] = ref
            rows.append(row)
        t = {'kind': 'Table', 'apiVersion': 'meta.k8s.io/v1', 'metadata': dict(lst['metadata'])}
        if with_columns:
            t['columnDefinitions'] = [{'name': n, 'type': ty, 'format': 'name' if n == 'Name' else '',
                                       'description': d, 'priority': pr} for n, ty, d, pr in cols]
        t['rows'] = rows
        return t

    # ------------------------------------------------------------ namespaces and nodes
    def known_namespaces(self):
        sim = self.server.sim
        return {'default', 'kube-system', 'kube-public', 'kube-node-lease', sim.namespace} | set(
            sim.knobs.get('extra_namespaces') or [])

    def namespaces(self, method, name):
        sim = self.server.sim
        if method not in ('GET', 'HEAD'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})

        def ns_obj(n):
            return {'kind': 'Namespace', 'apiVersion': 'v1',
                    'metadata': {'name': n, 'uid': '00000000-0000-4000-8000-%012x' % (hash(n) & 0xffffffffffff),
                                 'resourceVersion': '1', 'creationTimestamp': now_rfc3339(sim.start),
                                 'labels': {'kubernetes.io/metadata.name': n}},
                    'spec': {'finalizers': ['kubernetes']}, 'status': {'phase': 'Active'}}
        if name:
            self.authorize('get', 'namespaces', None, name)
            if sim.knobs.get('strict_namespaces') and name not in self.known_namespaces():
                raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % name, {'name': name, 'kind': 'namespaces'})
            return self.send_json(200, ns_obj(name))
        self.authorize('list', 'namespaces', None, None)
        names = sorted(self.known_namespaces())
        items = [ns_obj(n) for n in names]
        for i in items:
            del i['kind'], i['apiVersion']
        return self.send_json(200, {'kind': 'NamespaceList', 'apiVersion': 'v1',
                                    'metadata': {'resourceVersion': str(sim.store.rv)}, 'items': items})

    def nodes_api(self, method, name, q):
        sim = self.server.sim
        if method not in ('GET', 'HEAD'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {})
        from kubesim_controller import node_labels

        def node_obj(n):
            return {'kind': 'Node', 'apiVersion': 'v1',
                    'metadata': {'name': n['name'], 'uid': n.get('uid', ''), 'resourceVersion': '1',
                                 'creationTimestamp': now_rfc3339(sim.start), 'labels': node_labels(n)},
                    'spec': {},
                    'status': {'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'KubeletReady',
                                               'message': 'kubelet is posting ready status'}],
                               'nodeInfo': {'kubeletVersion': 'v1.32.0-kubesim', 'architecture': 'amd64',
                                            'operatingSystem': 'linux'}}}
        self.authorize('get' if name else ('watch' if truthy(q.get('watch', '')) else 'list'), 'nodes', None, name)
        with sim.store.lock:
            nodes = [dict(n) for n in sim.nodes]
        if name:
            for n in nodes:
                if n['name'] == name:
                    return self.send_json(200, node_obj(n))
            raise ApiError(404, 'NotFound', 'nodes "%s" not found' % name, {'name': name, 'kind': 'nodes'})
        items = [node_obj(n) for n in nodes]
        for i in items:
            del i['kind'], i['apiVersion']
        return self.send_json(200, {'kind': 'NodeList', 'apiVersion': 'v1',
                                    'metadata': {'resourceVersion': str(sim.store.rv)}, 'items': items})
