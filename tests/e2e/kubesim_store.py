"""kubesim object store, watch log, selectors and the simulated controllers.

Everything here runs under Store.lock.  Stored objects are never mutated in
place: every change builds a new dict and stores it with a new
resourceVersion, so LIST snapshots and watch events can keep references to
old versions for free.
"""

import base64
import bisect
import copy
import json
import random
import re
import threading
import time
import uuid
from collections import OrderedDict

RESOURCES = {
    # plural: (group, version, kind, listKind)
    'deployments': ('apps', 'v1', 'Deployment', 'DeploymentList'),
    'pods': ('', 'v1', 'Pod', 'PodList'),
    'services': ('', 'v1', 'Service', 'ServiceList'),
}

DNS1035 = re.compile(r'^[a-z]([-a-z0-9]*[a-z0-9])?$')
SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'
DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
DNS1123_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
               "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
               "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def now_rfc3339(t=None):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() if t is None else t))


def api_version(resource):
    g, v, _, _ = RESOURCES[resource]
    return '%s/%s' % (g, v) if g else v


def qualified(resource):
    """'deployments.apps' / 'pods', as the apiserver names resources in messages."""
    g = RESOURCES[resource][0]
    return '%s.%s' % (resource, g) if g else resource


def kind_qualified(resource):
    """'Deployment.apps' / 'Pod', as used in Invalid messages."""
    g, _, kind, _ = RESOURCES[resource]
    return '%s.%s' % (kind, g) if g else kind


class ApiError(Exception):
    """A Kubernetes Status failure; the HTTP layer renders it."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
              'message': self.message, 'reason': self.reason}
        if self.details is not None:
            st['details'] = self.details
        st['code'] = self.code
        return st


def err_details(resource, name=None):
    d = {}
    if name:
        d['name'] = name
    g = RESOURCES[resource][0]
    if g:
        d['group'] = g
    d['kind'] = resource
    return d


def not_found(resource, name):
    return ApiError(404, 'NotFound', '%s "%s" not found' % (qualified(resource), name), err_details(resource, name))


def already_exists(resource, name):
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (qualified(resource), name),
                    err_details(resource, name))


def conflict(resource, name, why=None):
    msg = 'Operation cannot be fulfilled on %s "%s": %s' % (
        qualified(resource), name,
        why or 'the object has been modified; please apply your changes to the latest version and try again')
    return ApiError(409, 'Conflict', msg, err_details(resource, name))


def bad_request(msg):
    return ApiError(400, 'BadRequest', msg)


def expired(msg):
    return ApiError(410, 'Expired', msg)


def invalid(resource, name, causes):
    """causes: list of (field, reason, message-after-field)."""
    parts = ['%s: %s' % (f, m) for f, _, m in causes]
    joined = parts[0] if len(parts) == 1 else '[' + ', '.join(parts) + ']'
    det = err_details(resource, name)
    det['kind'] = RESOURCES[resource][2]
    det['causes'] = [{'reason': r, 'message': m, 'field': f} for f, r, m in causes]
    return ApiError(422, 'Invalid', '%s "%s" is invalid: %s' % (kind_qualified(resource), name, joined), det)


# ---------------------------------------------------------------- selectors

def _split_top(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur)
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out if p.strip()]


_SET_RE = re.compile(r'^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$')


def parse_label_selector(s):
    """Returns a list of predicates over a labels dict; raises ApiError 400 on syntax errors."""
    preds = []
    if not s:
        return preds
    for term in _split_top(s):
        m = _SET_RE.match(term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(',') if v.strip()}
            if op == 'in':
                preds.append(lambda l, k=key, vs=vals: k in l and l[k] in vs)
            else:
                preds.append(lambda l, k=key, vs=vals: k not in l or l[k] not in vs)
            continue
        if '!=' in term:
            k, v = (x.strip() for x in term.split('!=', 1))
            preds.append(lambda l, k=k, v=v: l.get(k) != v)
        elif '==' in term:
            k, v = (x.strip() for x in term.split('==', 1))
            preds.append(lambda l, k=k, v=v: l.get(k) == v)
        elif '=' in term:
            k, v = (x.strip() for x in term.split('=', 1))
            preds.append(lambda l, k=k, v=v: l.get(k) == v)
        elif term.startswith('!'):
            k = term[1:].strip()
            preds.append(lambda l, k=k: k not in l)
        else:
            if not re.match(r'^[A-Za-z0-9./_-]+$', term):
                raise bad_request('unable to parse requirement: found \'%s\', expected: identifier' % term)
            preds.append(lambda l, k=term: k in l)
    return preds


def parse_field_selector(s):
    preds = []
    if not s:
        return preds
    for term in _split_top(s):
        neg = '!=' in term
        k, v = (x.strip() for x in re.split(r'!=|==|=', term, maxsplit=1))
        if k == 'metadata.name':
            get = (lambda o: o['metadata'].get('name'))
        elif k == 'metadata.namespace':
            get = (lambda o: o['metadata'].get('namespace'))
        elif k == 'status.phase':
            get = (lambda o: o.get('status', {}).get('phase'))
        elif k == 'spec.nodeName':
            get = (lambda o: o.get('spec', {}).get('nodeName', ''))
        else:
            raise bad_request('"%s" is not a known field selector: only "metadata.name", "metadata.namespace"' % k)
        if neg:
            preds.append(lambda o, g=get, v=v: g(o) != v)
        else:
            preds.append(lambda o, g=get, v=v: g(o) == v)
    return preds


class Filter:
    def __init__(self, resource, namespace, label_sel='', field_sel=''):
        self.resource = resource
        self.namespace = namespace
        self.labels = parse_label_selector(label_sel)
        self.fields = parse_field_selector(field_sel)
        self.has_selectors = bool(self.labels or self.fields)

    def match(self, obj):
        md = obj['metadata']
        if self.namespace and md.get('namespace') != self.namespace:
            return False
        lab = md.get('labels') or {}
        for p in self.labels:
            if not p(lab):
                return False
        for p in self.fields:
            if not p(obj):
                return False
        return True


def strip_kind(obj):
    """LIST items carry no kind/apiVersion, as the real apiserver renders them."""
    return {k: v for k, v in obj.items() if k not in ('kind', 'apiVersion')}


def fnv32a(data):
    h = 0x811c9dc5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xffffffff
    return h


def safe_encode(s):
    return ''.join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in s)


def template_hash(template):
    return safe_encode(str(fnv32a(json.dumps(template, sort_keys=True).encode())))


def rand_suffix(n=5):
    return ''.join(random.choice(SAFE_ALPHABET) for _ in range(n))


def int_or_percent(v, total, round_up):
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith('%'):
        pct = int(s[:-1])
        q, r = divmod(total * pct, 100)
        return q + (1 if round_up and r else 0)
    return int(s)


META_ORDER = ('name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
              'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences',
              'finalizers', 'managedFields')


def order_meta(obj):
    md = obj['metadata']
    out = {k: md[k] for k in META_ORDER if k in md}
    if len(out) != len(md):
        out.update({k: v for k, v in md.items() if k not in out})
    obj['metadata'] = out


class Store:
    def __init__(self, knobs, nodes):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.knobs = knobs                  # shared dict, read at use
        self.nodes = nodes                  # list of {'name':..., 'labels':{...}}
        self.rv = 1000
        self.objs = {r: {} for r in RESOURCES}   # resource -> {(ns, name): obj}
        self.log = []                       # (rv, resource, ns, type, obj, prev)
        self.log_rvs = []
        self.log_first_seq = 0
        self.min_rv = self.rv               # watches from RV >= min_rv are served
        self.snapshots = OrderedDict()      # snapshot id -> (rv, sorted objs)
        self.expire_epoch = 0               # bumped to end active watches with 410
        self.drop_epoch = 0                 # bumped to drop active watch connections
        self.dside = {}                     # deployment uid -> controller bookkeeping
        self.pside = {}                     # pod uid -> kubelet bookkeeping
        self.pods_by_owner = {}             # deployment uid -> set of pod keys
        self.active = set()                 # deployment keys the controller must look at

    # ------------------------------------------------------------ log
    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _emit(self, typ, resource, obj, prev=None):
        rv = int(obj['metadata']['resourceVersion'])
        self.log.append((rv, resource, obj['metadata'].get('namespace', ''), typ, obj, prev))
        self.log_rvs.append(rv)
        hist = int(self.knobs.get('history', 50000))
        if len(self.log) > hist + min(1000, max(1, hist // 10)):
            self._trim(len(self.log) - hist)
        self.cond.notify_all()

    def _trim(self, n):
        if n <= 0:
            return
        n = min(n, len(self.log))
        self.min_rv = max(self.min_rv, self.log_rvs[n - 1])
        del self.log[:n]
        del self.log_rvs[:n]
        self.log_first_seq += n

    def compact(self, kill_watches=False):
        """Forget all history: every RV handed out so far gets 410 from now on (etcd compaction).

        The revision moves on by one, as if something else had been written to etcd (RVs are shared
        by all resources, so gaps are normal): a LIST made after the compaction returns an RV that can
        be watched from, and any RV a client held before it cannot - even a caught-up client's."""
        with self.lock:
            self._trim(len(self.log))
            self.rv += 1
            self.min_rv = self.rv
            self.snapshots.clear()
            if kill_watches:
                self.expire_epoch += 1
            self.cond.notify_all()
            return self.rv

    def seq_after(self, rv):
        """Absolute sequence number of the first logged event newer than rv, or None if rv is too old."""
        if rv < self.min_rv:
            return None
        return self.log_first_seq + bisect.bisect_right(self.log_rvs, rv)

    def events_from(self, seq, maxn=256):
        i = seq - self.log_first_seq
        if i < 0:
            return None
        return self.log[i:i + maxn]

    def end_seq(self):
        return self.log_first_seq + len(self.log)

    # ------------------------------------------------------------ basic CRUD (callers hold lock)
    def get(self, resource, ns, name):
        return self.objs[resource].get((ns, name))

    def put_new(self, resource, obj):
        md = obj['metadata']
        md['resourceVersion'] = self._next_rv()
        order_meta(obj)
        self.objs[resource][(md.get('namespace', ''), md['name'])] = obj
        self._emit('ADDED', resource, obj)
        return obj

    def put_update(self, resource, obj, prev):
        md = obj['metadata']
        md['resourceVersion'] = self._next_rv()
        order_meta(obj)
        self.objs[resource][(md.get('namespace', ''), md['name'])] = obj
        self._emit('MODIFIED', resource, obj, prev)
        return obj

    def remove(self, resource, obj):
        """Delete the stored object; obj (the stored one or an edited copy) is what DELETED carries."""
        md = obj['metadata']
        key = (md.get('namespace', ''), md['name'])
        prev = self.objs[resource].pop(key)
        final = copy.deepcopy(obj)
        final['metadata']['resourceVersion'] = self._next_rv()
        order_meta(final)
        self._emit('DELETED', resource, final, prev)
        return final

    # ------------------------------------------------------------ list with snapshots
    def list(self, resource, flt, limit=0, cont=None, rv_param=None):
        with self.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + '=' * (-len(cont) % 4)))
                    snap_rv, start, sid = int(tok['rv']), tok['start'], tok['id']
                except Exception:
                    raise bad_request('continue key is not valid: illegal base64 data')
                snap = self.snapshots.get(sid)
                if snap is None or snap_rv < self.min_rv:
                    raise expired(
                        'The provided continue parameter is too old to display a consistent list result. You can '
                        'start a new list without the continue parameter, or use the continue token in this '
                        'response to retrieve the remainder of the results. Continuing with the provided token '
                        'results in an inconsistent list - objects that were created, modified, or deleted '
                        'between the time the first chunk was returned and now may show up in the list.')
                self.snapshots.move_to_end(sid)
                list_rv, items = snap
                keys = [k for k, _ in items]
                idx = bisect.bisect_right(keys, tuple(start))
            else:
                if rv_param not in (None, '', '0'):
                    try:
                        want = int(rv_param)
                    except ValueError:
                        raise bad_request('invalid resource version: %s' % rv_param)
                    if want < self.min_rv:
                        raise expired('too old resource version: %d (%d)' % (want, self.min_rv))
                list_rv = self.rv
                items = sorted(self.objs[resource].items())
                idx = 0
                sid = None
            out = []
            i = idx
            while i < len(items) and (not limit or len(out) < limit):
                if flt.match(items[i][1]):
                    out.append(items[i][1])
                i += 1
            meta = {'resourceVersion': str(list_rv)}
            if limit and i < len(items):
                # Only report "more" if something after i would actually match.
                rest = sum(1 for _, o in items[i:] if flt.match(o)) if not flt.has_selectors else None
                if rest is None or rest > 0:
                    if sid is None:
                        sid = uuid.uuid4().hex[:12]
                        self.snapshots[sid] = (list_rv, items)
                        while len(self.snapshots) > int(self.knobs.get('max_snapshots', 256)):
                            self.snapshots.popitem(last=False)
                    last = items[i - 1][0]
                    tok = {'v': 'meta.k8s.io/v1', 'rv': list_rv, 'start': list(last), 'id': sid}
                    meta['continue'] = base64.urlsafe_b64encode(json.dumps(tok).encode()).decode().rstrip('=')
                    if rest is not None:
                        meta['remainingItemCount'] = rest
            g, v, _, list_kind = RESOURCES[resource]
            return {'kind': list_kind, 'apiVersion': api_version(resource), 'metadata': meta,
                    'items': [strip_kind(o) for o in out]}

    # ------------------------------------------------------------ deployments: writes from the API
    def create_deployment(self, ns, body, field_manager='unknown', dry_run=False):
        if not isinstance(body, dict):
            raise bad_request('Object \'Kind\' is missing in \'%s\'' % json.dumps(body)[:100])
        if body.get('apiVersion') not in (None, 'apps/v1'):
            raise bad_request('the API version in the data (%s) does not match the expected API version (apps/v1)'
                              % body.get('apiVersion'))
        if body.get('kind') not in (None, 'Deployment'):
            raise bad_request('the kind in the data (%s) does not match the expected kind (Deployment)'
                              % body.get('kind'))
        obj = copy.deepcopy(body)
        obj['kind'] = 'Deployment'
        obj['apiVersion'] = 'apps/v1'
        md = obj.setdefault('metadata', {})
        if not isinstance(md, dict):
            raise bad_request('metadata must be an object')
        if md.get('namespace') not in (None, '', ns):
            raise bad_request('the namespace of the provided object does not match the namespace sent on the '
                              'request')
        if not md.get('name') and md.get('generateName'):
            md['name'] = md['generateName'] + rand_suffix()
        name = md.get('name') or ''
        self._default_deployment(obj)
        self._validate_deployment(obj, name)
        with self.lock:
            if (ns, name) in self.objs['deployments']:
                raise already_exists('deployments', name)
            t = time.time()
            md['namespace'] = ns
            md['uid'] = str(uuid.uuid4())
            md['generation'] = 1
            md['creationTimestamp'] = now_rfc3339(t)
            for k in ('resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'):
                md.pop(k, None)
            md['managedFields'] = [{'manager': field_manager, 'operation': 'Update', 'apiVersion': 'apps/v1',
                                    'time': now_rfc3339(t), 'fieldsType': 'FieldsV1',
                                    'fieldsV1': {'f:metadata': {}, 'f:spec': {}}}]
            obj['status'] = {}
            obj = self._order(obj)
            if dry_run:
                return copy.deepcopy(obj)
            self.put_new('deployments', obj)
            self.dside[md['uid']] = {'created': t, 'next_ready': 0.0, 'progress_t': t, 'revision': 0,
                                     'hash': None}
            self.pods_by_owner[md['uid']] = set()
            self.active.add((ns, name))
            return obj

    @staticmethod
    def _order(obj):
        out = {}
        for k in ('kind', 'apiVersion', 'metadata', 'spec', 'status'):
            if k in obj:
                out[k] = obj[k]
        for k, v in obj.items():
            out.setdefault(k, v)
        return out

    @staticmethod
    def _default_deployment(obj):
        spec = obj.get('spec')
        if not isinstance(spec, dict):
            spec = obj['spec'] = {}
        spec.setdefault('replicas', 1)
        tmpl = spec.get('template')
        if not isinstance(tmpl, dict):
            tmpl = spec['template'] = {}
        tmd = tmpl.setdefault('metadata', {})
        if isinstance(tmd, dict):
            tmd.setdefault('creationTimestamp', None)
        ps = tmpl.get('spec')
        if not isinstance(ps, dict):
            ps = tmpl['spec'] = {}
        for c in ps.get('containers') or []:
            if isinstance(c, dict):
                c.setdefault('resources', {})
                c.setdefault('terminationMessagePath', '/dev/termination-log')
                c.setdefault('terminationMessagePolicy', 'File')
                img = str(c.get('image', ''))
                tag = img.rsplit('/', 1)[-1]
                c.setdefault('imagePullPolicy',
                             'Always' if (':' not in tag or tag.endswith(':latest')) and '@' not in tag
                             else 'IfNotPresent')
        ps.setdefault('restartPolicy', 'Always')
        ps.setdefault('terminationGracePeriodSeconds', 30)
        ps.setdefault('dnsPolicy', 'ClusterFirst')
        ps.setdefault('securityContext', {})
        ps.setdefault('schedulerName', 'default-scheduler')
        st = spec.setdefault('strategy', {'type': 'RollingUpdate'})
        if isinstance(st, dict) and st.get('type', 'RollingUpdate') == 'RollingUpdate':
            st.setdefault('type', 'RollingUpdate')
            ru = st.setdefault('rollingUpdate', {})
            ru.setdefault('maxUnavailable', '25%')
            ru.setdefault('maxSurge', '25%')
        spec.setdefault('revisionHistoryLimit', 10)
        spec.setdefault('progressDeadlineSeconds', 600)
        # key order as the apiserver prints it
        order = ['replicas', 'selector', 'template', 'strategy', 'minReadySeconds', 'revisionHistoryLimit',
                 'paused', 'progressDeadlineSeconds']
        obj['spec'] = {k: spec[k] for k in order if k in spec}
        obj['spec'].update({k: v for k, v in spec.items() if k not in obj['spec']})

    @staticmethod
    def _validate_deployment(obj, name):
        causes = []
        if not name:
            causes.append(('metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required'))
        elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            causes.append(('metadata.name', 'FieldValueInvalid', 'Invalid value: "%s": %s' % (name, DNS1123_MSG)))
        md = obj['metadata']
        labels = md.get('labels')
        if labels is not None and not isinstance(labels, dict):
            causes.append(('metadata.labels', 'FieldValueInvalid', 'Invalid value: must be a map'))
        spec = obj['spec']
        tmd = spec['template'].get('metadata') or {}
        for field, lab in (('metadata.labels', labels), ('spec.selector.matchLabels',
                                                         (spec.get('selector') or {}).get('matchLabels')
                                                         if isinstance(spec.get('selector'), dict) else None),
                           ('spec.template.metadata.labels', tmd.get('labels') if isinstance(tmd, dict) else None)):
            if isinstance(lab, dict):
                causes.extend(label_causes(field, lab))
        r = spec.get('replicas')
        if not isinstance(r, int) or isinstance(r, bool) or r < 0:
            causes.append(('spec.replicas', 'FieldValueInvalid',
                           'Invalid value: %s: must be greater than or equal to 0' % json.dumps(r)))
        pds = spec.get('progressDeadlineSeconds')
        if not isinstance(pds, int) or pds <= 0:
            causes.append(('spec.progressDeadlineSeconds', 'FieldValueInvalid',
                           'Invalid value: %s: must be greater than minReadySeconds' % json.dumps(pds)))
        sel = spec.get('selector')
        tlabels = (spec['template'].get('metadata') or {}).get('labels') or {}
        if not isinstance(sel, dict) or not (sel.get('matchLabels') or sel.get('matchExpressions')):
            causes.append(('spec.selector', 'FieldValueRequired', 'Required value'))
        else:
            ml = sel.get('matchLabels') or {}
            if not isinstance(ml, dict) or any(tlabels.get(k) != v for k, v in ml.items()):
                shown = 'map[string]string{%s}' % ', '.join('"%s":"%s"' % kv for kv in sorted(tlabels.items()))
                causes.append(('spec.template.metadata.labels', 'FieldValueInvalid',
                               'Invalid value: %s: `selector` does not match template `labels`' % shown))
        cs = spec['template']['spec'].get('containers')
        if not isinstance(cs, list) or not cs:
            causes.append(('spec.template.spec.containers', 'FieldValueRequired', 'Required value'))
        else:
            for i, c in enumerate(cs):
                if not isinstance(c, dict) or not c.get('name'):
                    causes.append(('spec.template.spec.containers[%d].name' % i, 'FieldValueRequired',
                                   'Required value'))
                elif not c.get('image'):
                    causes.append(('spec.template.spec.containers[%d].image' % i, 'FieldValueRequired',
                                   'Required value'))
        if causes:
            raise invalid('deployments', name, causes)

    def update_deployment(self, ns, name, body, field_manager='unknown'):
        """PUT: replace metadata labels/annotations and spec; optimistic concurrency on resourceVersion."""
        with self.lock:
            cur = self.get('deployments', ns, name)
            if cur is None:
                raise not_found('deployments', name)
            if not isinstance(body, dict) or not isinstance(body.get('metadata'), dict):
                raise bad_request('metadata must be an object')
            if body['metadata'].get('name') not in (None, name):
                raise bad_request('the name of the object (%s) does not match the name on the URL (%s)'
                                  % (body['metadata'].get('name'), name))
            rv = body['metadata'].get('resourceVersion')
            if rv and rv != cur['metadata']['resourceVersion']:
                raise conflict('deployments', name)
            new = copy.deepcopy(cur)
            b = copy.deepcopy(body)
            b.setdefault('spec', {})
            self._default_deployment(b)
            self._validate_deployment(dict(b, metadata=dict(b['metadata'], name=name)), name)
            for k in ('labels', 'annotations', 'finalizers'):
                if k in b['metadata']:
                    new['metadata'][k] = b['metadata'][k]
                else:
                    new['metadata'].pop(k, None)
            return self._commit_deployment_change(cur, new, b['spec'])

    def patch_deployment(self, ns, name, patch, strategic=False):
        """JSON merge patch, or a strategic merge patch (lists of named objects merged by name)."""
        with self.lock:
            cur = self.get('deployments', ns, name)
            if cur is None:
                raise not_found('deployments', name)
            if not isinstance(patch, dict):
                raise bad_request('patch must be a JSON object')
            merged = merge_patch(copy.deepcopy(cur), patch, strategic)
            rv = (patch.get('metadata') or {}).get('resourceVersion')
            if rv and rv != cur['metadata']['resourceVersion']:
                raise conflict('deployments', name)
            self._default_deployment(merged)
            self._validate_deployment(merged, name)
            new = copy.deepcopy(cur)
            for k in ('labels', 'annotations', 'finalizers'):
                if merged['metadata'].get(k) is not None:
                    new['metadata'][k] = merged['metadata'][k]
                else:
                    new['metadata'].pop(k, None)
            return self._commit_deployment_change(cur, new, merged['spec'])

    def _commit_deployment_change(self, cur, new, spec):
        md = new['metadata']
        if spec != cur['spec']:
            new['spec'] = spec
            md['generation'] = md.get('generation', 1) + 1
        if new == cur:
            return cur       # no-op writes don't bump resourceVersion, as on the real server
        if md.get('deletionTimestamp') and not md.get('finalizers'):
            return self.remove_deployment(new)
        self.put_update('deployments', new, cur)
        self.active.add((md['namespace'], md['name']))
        return new

    def delete_deployment(self, ns, name, policy=None, preconditions=None):
        """Returns (http_code, body_or_None, obj). body None means 'render a Success Status'."""
        with self.lock:
            cur = self.get('deployments', ns, name)
            if cur is None:
                raise not_found('deployments', name)
            pre = preconditions or {}
            if pre.get('uid') and pre['uid'] != cur['metadata']['uid']:
                raise conflict('deployments', name,
                               'Precondition failed: UID in precondition: %s, UID in object meta: %s'
                               % (pre['uid'], cur['metadata']['uid']))
            if pre.get('resourceVersion') and pre['resourceVersion'] != cur['metadata']['resourceVersion']:
                raise conflict('deployments', name,
                               'Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in '
                               'object meta: %s' % (pre['resourceVersion'], cur['metadata']['resourceVersion']))
            policy = policy or 'Background'
            if policy not in ('Foreground', 'Background', 'Orphan'):
                raise invalid('deployments', name, [('propagationPolicy', 'FieldValueNotSupported',
                                                     'Unsupported value: "%s": supported values: "Foreground", '
                                                     '"Background", "Orphan"' % policy)])
            if cur['metadata'].get('deletionTimestamp'):
                # Already being deleted: the real server answers with the object, unchanged.
                return 200, cur
            if policy == 'Background' and not cur['metadata'].get('finalizers'):
                self.remove_deployment(cur)
                return 200, None
            new = copy.deepcopy(cur)
            md = new['metadata']
            md['deletionTimestamp'] = now_rfc3339()
            md['deletionGracePeriodSeconds'] = 0
            md['generation'] = md.get('generation', 1) + 1
            fin = list(md.get('finalizers') or [])
            want = 'foregroundDeletion' if policy == 'Foreground' else 'orphan'
            if want not in fin:
                fin.append(want)
            md['finalizers'] = fin
            self.put_update('deployments', new, cur)
            self.dside.get(md['uid'], {})['deleting_t'] = time.time()
            self.active.add((ns, name))
            return 200, new

    def create_service(self, ns, body):
        """A Service as kubesim keeps it: validated loosely (name, a headless or plain spec), never proxied."""
        if not isinstance(body, dict) or body.get('kind') not in (None, 'Service') or \
                body.get('apiVersion') not in (None, 'v1'):
            raise bad_request('the kind/apiVersion in the data does not match v1 Service')
        obj = copy.deepcopy(body)
        obj['kind'], obj['apiVersion'] = 'Service', 'v1'
        md = obj.setdefault('metadata', {})
        name = md.get('name') or ''
        if not DNS1035.match(name) or len(name) > 63:
            raise invalid('services', name, [('metadata.name', 'FieldValueInvalid',
                                              'Invalid value: "%s": a DNS-1035 label must consist of lower case '
                                              'alphanumeric characters or \'-\', start with an alphabetic character, '
                                              'and end with an alphanumeric character' % name)])
        spec = obj.setdefault('spec', {})
        for i, p in enumerate(spec.get('ports') or []):
            if not isinstance(p.get('port'), int) or not 0 < p['port'] < 65536:
                raise invalid('services', name, [('spec.ports[%d].port' % i, 'FieldValueInvalid',
                                                  'Invalid value: %r: must be between 1 and 65535, inclusive'
                                                  % p.get('port'))])
        spec.setdefault('type', 'ClusterIP')
        spec.setdefault('clusterIP', '10.96.%d.%d' % (random.randint(0, 255), random.randint(1, 254)))
        spec['clusterIPs'] = [spec['clusterIP']]
        with self.lock:
            if (ns, name) in self.objs['services']:
                raise already_exists('services', name)
            md['namespace'] = ns
            md['uid'] = str(uuid.uuid4())
            md['creationTimestamp'] = now_rfc3339()
            for k in ('resourceVersion', 'deletionTimestamp', 'generation'):
                md.pop(k, None)
            obj['status'] = {'loadBalancer': {}}
            return self.put_new('services', obj)

    def delete_service(self, ns, name):
        with self.lock:
            cur = self.get('services', ns, name)
            if cur is None:
                raise not_found('services', name)
            return self.remove('services', cur)

    def collect_owned(self, uid):
        """Garbage collection: every Service whose ownerReferences name uid goes with its owner."""
        for key, svc in sorted(self.objs['services'].items()):
            if any(r.get('uid') == uid for r in svc['metadata'].get('ownerReferences') or []):
                self.remove('services', svc)

    def remove_deployment(self, obj):
        """Actually delete; its pods are garbage collected (background) unless orphaned, and the
        Services it owns go first (blockOwnerDeletion: a foreground delete ends after them)."""
        uid = obj['metadata']['uid']
        self.collect_owned(uid)
        fin = self.remove('deployments', obj)
        pods = self.pods_by_owner.pop(uid, set())
        self.dside.pop(uid, None)
        for key in sorted(pods):
            p = self.objs['pods'].get(key)
            if p is not None:
                self.delete_pod(p)
        return fin

    def delete_pod(self, pod):
        new = copy.deepcopy(pod)
        new['metadata']['deletionTimestamp'] = now_rfc3339()
        new['metadata']['deletionGracePeriodSeconds'] = 0
        side = self.pside.pop(pod['metadata']['uid'], None) or {}
        owned = self.pods_by_owner.get(side.get('owner'))
        if owned is not None:
            owned.discard((new['metadata']['namespace'], new['metadata']['name']))
        return self.remove('pods', new)


LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
LABEL_NAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')


def label_causes(field, labels):
    """Label key/value validation with the apiserver's words."""
    out = []
    for k, v in sorted(labels.items()):
        prefix, _, name = k.rpartition('/')
        if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
            out.append((field, 'FieldValueInvalid', 'Invalid value: "%s": prefix part %s' % (k, DNS1123_MSG)))
        if len(name) > 63:
            out.append((field, 'FieldValueInvalid', 'Invalid value: "%s": name part must be no more than 63 '
                        'characters' % k))
        elif not LABEL_NAME.match(name):
            out.append((field, 'FieldValueInvalid', 'Invalid value: "%s": name part must consist of alphanumeric '
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" % k))
        if not isinstance(v, str):
            out.append((field, 'FieldValueInvalid', 'Invalid value: %s: label values must be strings' % json.dumps(v)))
            continue
        if len(v) > 63:
            out.append((field, 'FieldValueInvalid', 'Invalid value: "%s": must be no more than 63 characters' % v))
        elif not LABEL_VALUE.match(v):
            out.append((field, 'FieldValueInvalid', 'Invalid value: "%s": a valid label must be an empty string or '
                        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" % v))
    return out


def merge_patch(target, patch, strategic=False):
    """RFC 7386 merge patch; with strategic=True, lists of objects with a "name" (containers, ports, env...)
    are merged element by element, honouring $setElementOrder/ and $patch: delete, as kubectl's
    strategic merge patches (set image, rollout restart, apply) expect."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if k.startswith('$'):
            continue                      # $setElementOrder/..., $retainKeys, $patch at this level
        if v is None:
            target.pop(k, None)
        elif strategic and isinstance(v, list) and isinstance(target.get(k), list) and v and \
                all(isinstance(e, dict) and 'name' in e for e in v) and \
                all(isinstance(e, dict) and 'name' in e for e in target[k]):
            merged = [copy.deepcopy(e) for e in target[k]]
            for e in v:
                idx = next((i for i, t in enumerate(merged) if t['name'] == e['name']), None)
                if e.get('$patch') == 'delete':
                    if idx is not None:
                        del merged[idx]
                elif idx is None:
                    merged.append(merge_patch({}, e, True))
                else:
                    merged[idx] = merge_patch(merged[idx], e, True)
            order = patch.get('$setElementOrder/' + k)
            if isinstance(order, list):
                rank = {o.get('name'): i for i, o in enumerate(order) if isinstance(o, dict)}
                merged.sort(key=lambda t: rank.get(t['name'], len(rank)))
            target[k] = merged
        else:
            target[k] = merge_patch(target.get(k), v, strategic)
    return target
