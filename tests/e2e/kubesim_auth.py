"""kubesim: TokenReview and SubjectAccessReview as the real API server answers them.

    POST /apis/authentication.k8s.io/v1/tokenreviews          who does spec.token belong to?
    POST /apis/authorization.k8s.io/v1/subjectaccessreviews   may spec.user/groups do resourceAttributes?

Both need the caller (kubesim's own service-account token, user knobs['user']) to hold the
system:auth-delegator right: callers not in `delegators` get the 403 the apiserver gives. Answers are
201 Created with the review echoed back and `status` filled as kube-apiserver fills it: an unknown
token or a token for other audiences gets {"user": {}, "error": "[invalid bearer token, ...]"} and no
`authenticated`; an allowed access gets {"allowed": true, "reason": "RBAC: allowed by ..."} and a
denied one {"allowed": false} (RBAC says nothing when it denies).

State, configurable from tests through POST /kubesim/auth (see Auth.configure):
    users       token -> {"username", "uid", "groups", "audiences", "extra"}
    rules       [{"users": [...], "groups": [...], "verbs": [...], "apiGroups": [...], "resources": [...],
                  "namespace": NS or null (cluster-wide), "names": [...] (empty = any)}]   allow rules
    delegators  users that may create the reviews (system:auth-delegator)
    unavailable when true, every review answers 503 (the worker's retries then give up)
Counters (in /kubesim/stats): tokenreviews, subjectaccessreviews, subjectaccessreviews_<verb>,
reviews_forbidden, reviews_unavailable.

At start kubesim knows one client: DIR/client-token for system:serviceaccount:NS:cplane-driver, audience
"cplane", allowed every cplane verb on clusters.cplane.dev in NS (what deploy/ grants the driver).
"""

import copy
import json
import secrets
import threading
import uuid

from kubesim_store import ApiError

TOKENREVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews'
ACCESSREVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews'
PATHS = (TOKENREVIEWS, ACCESSREVIEWS)
API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local'
CPLANE_VERBS = ['create', 'update', 'delete', 'get', 'list', 'watch']


def sa_user(ns, name):
    return {'username': 'system:serviceaccount:%s:%s' % (ns, name), 'uid': str(uuid.uuid4()),
            'groups': ['system:serviceaccounts', 'system:serviceaccounts:%s' % ns, 'system:authenticated'],
            'extra': {'authentication.kubernetes.io/pod-name': ['%s-0' % name],
                      'authentication.kubernetes.io/pod-uid': [str(uuid.uuid4())]}}


class Auth:
    def __init__(self, sim, namespace, worker_user):
        self.sim = sim
        self.lock = threading.Lock()
        self.namespace = namespace
        self.users = {}
        self.rules = []
        self.delegators = {worker_user}
        self.unavailable = False
        self.client_token = secrets.token_urlsafe(32)
        self.client_user = sa_user(namespace, 'cplane-driver')
        self.users[self.client_token] = dict(self.client_user, audiences=['cplane'])
        self.rules.append({'users': [self.client_user['username']], 'verbs': list(CPLANE_VERBS),
                           'apiGroups': ['cplane.dev'], 'resources': ['clusters'], 'namespace': namespace,
                           'names': [], 'binding': 'RoleBinding "cplane-client/%s" of Role "cplane-client"'
                           % namespace})

    def api_token_user(self, token):
        """kubesim's own service-account tokens are API tokens (audience: the API server)."""
        if self.sim.token_ok(token):
            u = sa_user(self.namespace, 'cplane')
            u['username'] = self.sim.knobs.get('user') or u['username']
            return dict(u, audiences=[API_AUDIENCE])
        return None

    # ------------------------------------------------------------ admin
    def configure(self, req):
        """POST /kubesim/auth: {"add_users": [{"token", "username", "uid", "groups", "audiences", "extra"}],
        "revoke": [token, ...], "rules": [...] (replace) / "add_rules": [...], "delegators": [...],
        "unavailable": bool}.  Answers the resulting state (tokens not included)."""
        with self.lock:
            for u in req.get('add_users', []):
                u = dict(u)
                tok = u.pop('token')
                u.setdefault('uid', str(uuid.uuid4()))
                u.setdefault('groups', ['system:authenticated'])
                u.setdefault('audiences', ['cplane'])
                u.setdefault('extra', {})
                self.users[tok] = u
            for tok in req.get('revoke', []):
                self.users.pop(tok, None)
            if 'rules' in req:
                self.rules = copy.deepcopy(req['rules'])
            self.rules.extend(copy.deepcopy(req.get('add_rules', [])))
            if 'delegators' in req:
                self.delegators = set(req['delegators'])
            if 'unavailable' in req:
                self.unavailable = bool(req['unavailable'])
            return self.state()

    def state(self):
        return {'users': sorted(u['username'] for u in self.users.values()), 'rules': self.rules,
                'delegators': sorted(self.delegators), 'unavailable': self.unavailable,
                'client_user': self.client_user['username']}

    # ------------------------------------------------------------ the API
    def review(self, handler, method, path, body):
        sim = self.sim
        kind = 'tokenreviews' if path == TOKENREVIEWS else 'subjectaccessreviews'
        group = 'authentication.k8s.io' if kind == 'tokenreviews' else 'authorization.k8s.io'
        if method != 'POST':
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource', {'group': group, 'kind': kind})
        caller = sim.knobs.get('user')
        with self.lock:
            delegated = caller in self.delegators
            unavailable = self.unavailable
        if not delegated:
            sim.count('reviews_forbidden')
            raise ApiError(403, 'Forbidden', '%s.%s is forbidden: User "%s" cannot create resource "%s" in API '
                           'group "%s" at the cluster scope' % (kind, group, caller, kind, group),
                           {'group': group, 'kind': kind})
        if unavailable:
            sim.count('reviews_unavailable')
            raise ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request',
                           {'retryAfterSeconds': 1}, headers={'Retry-After': '1'})
        try:
            obj = json.loads(body)
        except ValueError as e:
            raise ApiError(400, 'BadRequest', 'the object provided is unrecognized: %s' % e)
        want_kind = 'TokenReview' if kind == 'tokenreviews' else 'SubjectAccessReview'
        if not isinstance(obj, dict) or obj.get('kind') != want_kind or obj.get('apiVersion') != group + '/v1':
            raise ApiError(400, 'BadRequest', 'the API version in the data (%s) does not match the expected API '
                           'version (%s/v1)' % (obj.get('apiVersion') if isinstance(obj, dict) else '?', group))
        spec = obj.get('spec') or {}
        sim.count(kind)
        if kind == 'tokenreviews':
            status = self.token_status(spec)
        else:
            status = self.access_status(spec)
        out = {'kind': want_kind, 'apiVersion': group + '/v1', 'metadata': {'creationTimestamp': None},
               'spec': spec, 'status': status}
        handler.send_json(201, out)

    def token_status(self, spec):
        tok = spec.get('token') or ''
        want = spec.get('audiences') or []
        with self.lock:
            u = self.users.get(tok)
        if u is None:
            u = self.api_token_user(tok)
        if u is None:
            return {'user': {}, 'error': '[invalid bearer token, token lookup failed]'}
        has = u.get('audiences') or [API_AUDIENCE]
        target = want or [API_AUDIENCE]
        common = [a for a in target if a in has]
        if not common:
            return {'user': {}, 'error': '[invalid bearer token, token audiences %s is invalid for the target '
                    'audiences %s]' % (json.dumps(has), json.dumps(target))}
        user = {'username': u['username'], 'uid': u.get('uid', ''), 'groups': list(u.get('groups', []))}
        if u.get('extra'):
            user['extra'] = u['extra']
        return {'authenticated': True, 'user': user, 'audiences': common}

    def access_status(self, spec):
        ra = spec.get('resourceAttributes')
        user, groups = spec.get('user') or '', spec.get('groups') or []
        if not user and not groups:
            raise ApiError(422, 'Invalid', 'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: '
                           'Invalid value: "": at least one of user or group must be specified')
        if not ra:
            raise ApiError(422, 'Invalid', 'SubjectAccessReview.authorization.k8s.io "" is invalid: '
                           'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes '
                           'or resourceAttributes must be specified')
        verb = ra.get('verb', '')
        self.sim.count('subjectaccessreviews_%s' % verb)
        with self.lock:
            rules = list(self.rules)
        for r in rules:
            if not (user in r.get('users', []) or '*' in r.get('users', [])
                    or any(g in r.get('groups', []) for g in groups)):
                continue
            if not any(v in ('*', verb) for v in r.get('verbs', [])):
                continue
            if not any(g in ('*', ra.get('group', '')) for g in r.get('apiGroups', [])):
                continue
            if not any(x in ('*', ra.get('resource', '')) for x in r.get('resources', [])):
                continue
            if r.get('namespace') not in (None, ra.get('namespace', '')):
                continue
            if r.get('names') and ra.get('name', '') not in r['names']:
                continue
            return {'allowed': True, 'reason': 'RBAC: allowed by %s' % r.get('binding', 'a rule')}
        return {'allowed': False}
