#!/usr/bin/python3
"""kubesim: a Kubernetes API server simulator for cplane's end-to-end tests and `make demo`.

Standard-library Python 3.11 plus the `openssl` command (certificates).

    kubesim.py --listen 127.0.0.1:0 --state-dir DIR [--ca rsa|ecdsa] [--token T]
               [--namespace NS] [--node LABEL=VALUE ...] [--nodes N]
               [--ready-pace-ms N] [--instant] [--plain-http] [--knob KEY=VALUE ...]
               [--cert-dns a,b] [--cert-ips 127.0.0.1] [--pki-cache DIR] [--seed N] [--client-cert-auth] [-v]

When ready it prints one JSON line on stdout (also written to DIR/ready.json), e.g.
    {"port": 40123, "url": "https://127.0.0.1:40123", "sa_dir": "DIR/serviceaccount",
     "ca": "DIR/serviceaccount/ca.crt", "token": "...", "token_file": ".../token", "namespace": "default",
     "kubeconfig": "DIR/kubeconfig", "other_ca": "DIR/other-ca.crt", "admin": "https://127.0.0.1:40123/kubesim",
     "state_dir": "DIR", "pid": 1234}
DIR/serviceaccount/{token,ca.crt,namespace} is laid out like an in-cluster mount; other_ca is an unrelated CA
(for "unknown authority" tests); --cert-dns without kubernetes.default.svc makes a "name mismatch" server.
The server certificate names kubernetes.default.svc, kubernetes.default, kubernetes,
kubernetes.default.svc.cluster.local, localhost, 127.0.0.1 and ::1 by default. TLS 1.2 and 1.3 are accepted.
DIR/requests.log has one line per request (method, path, status or "cut", duration).

DIR/kubeconfig-token.yaml is a kind-style YAML kubeconfig with the token inline; with --client-cert-auth the
server also asks for a client certificate (optional) from its CA, whose CN is then the user, and
DIR/kubeconfig-cert-rsa.yaml / -ec.yaml carry kind-style client certificates ("kubeconfigs" in ready.json).

API served (Bearer token or a client certificate of the CA required, 401 Status otherwise):
    /version /healthz /livez /readyz (no token needed), /api /apis /apis/apps /api/v1 /apis/apps/v1 (discovery),
    /openapi/v3 (a stub telling kubectl to validate server-side), /api/v1/namespaces[/NS], /api/v1/nodes[/NAME],
    /apis/apps/v1[/namespaces/NS]/deployments[/NAME[/scale]]  GET LIST WATCH POST PUT PATCH DELETE
    /api/v1[/namespaces/NS]/pods[/NAME]                        GET LIST WATCH DELETE
    /api/v1[/namespaces/NS]/events[/NAME]                      GET LIST POST PATCH (merge; stats event_writes)
LIST: labelSelector (=, ==, !=, in, notin, exists, !exists), fieldSelector (metadata.name/namespace),
limit/continue over a consistent snapshot (410 once compacted), resourceVersion. WATCH: resourceVersion,
allowWatchBookmarks, timeoutSeconds, sendInitialEvents; too-old RV -> ERROR event with a 410 Status (or
HTTP 410 with the watch_gone_as_http knob). Bodies over 2 KiB are sent chunked, as Go's net/http does.
Request bodies: JSON, and protobuf for Deployment/DeleteOptions (typed kubectl commands send that).
kubectl (--server/--certificate-authority/--token, or --kubeconfig DIR/kubeconfig) can create, apply, get
(server-side Table printing), get -w, rollout status, scale, describe and delete Deployments.

Simulated cluster: a deployment controller (pods NAME-HASH-xxxxx, one more becomes Ready every
ready_pace_ms per Deployment, status and conditions as the real controller writes them, progress deadline),
a scheduler (nodeSelector against the --node labels: no match -> Pending/Unschedulable), a kubelet (images
containing "nonexistent" or "bad-image" -> ErrImagePull then ImagePullBackOff; "crashloop" ->
CrashLoopBackOff) and a garbage collector (Background: pods go at once; Foreground: deletionTimestamp +
foregroundDeletion finalizer, pods removed one per pace, then the Deployment; Orphan: pods kept).

Admin endpoints (no authentication: kubesim only listens on loopback, and tests must reach them even while
the API answers 401/403/429; never subject to faults):
    GET  /kubesim/state[?resource=deployments|pods]   whole store, knobs, nodes, stats
    GET  /kubesim/knobs        POST /kubesim/knobs {"knob": value, ...}      (see DEFAULT_KNOBS below)
    GET  /kubesim/stats        POST /kubesim/stats/reset
    POST /kubesim/settle       {"timeout_s": 10}      wait until the controllers are idle -> {"settled": bool}
    POST /kubesim/compact      {"kill_watches": bool}  etcd compaction: every RV handed out so far gets 410
    POST /kubesim/drop-watches {}                      abruptly close every open watch
    POST /kubesim/nodes        {"add": [{"name": n, "labels": {...}}], "remove": [n], "set": [...]}
    POST /kubesim/rotate-token {"token": optional, "grace_s": seconds the old token stays valid}
    POST /kubesim/pace         {"ms": N}               readiness pace (0 = instant)
    POST /kubesim/bulk-create  {"namespace", "prefix", "count", "replicas", "labels", "image"}
    POST /kubesim/churn        {"namespace", "prefix", "count"}  count MODIFIED events over matching deployments
    POST /kubesim/patch        {"resource", "namespace", "name", "patch"}  merge-patch anything (status too)
    POST /kubesim/delete       {"resource", "namespace", "name"}           remove at once, no finalizers
    GET  /kubesim/auth         POST /kubesim/auth {...}   review users, RBAC allow rules, delegators (kubesim_auth.py)
TokenReview and SubjectAccessReview: see kubesim_auth.py.  DIR/client-token is a token the reviews know
(system:serviceaccount:NS:cplane-driver, audience cplane, every cplane verb granted in NS).
From tests, use kubesim_fixture.start_kubesim() (or its `kubesim` pytest fixture).
"""

import argparse
import http
import json
import os
import random
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_store import Store, ApiError  # noqa: E402
from kubesim_controller import Controller  # noqa: E402
import kubesim_api  # noqa: E402
import kubesim_admin  # noqa: E402
import kubesim_auth  # noqa: E402

DEFAULT_KNOBS = {
    'ready_pace_ms': 100,          # one pod of a deployment becomes ready every N ms
    'instant': False,              # pods ready at once
    'controller_paused': False,    # freeze the simulated controllers
    'tick_ms': 20,                 # controller period
    'history': 50000,              # watch events kept (the watch cache); older RVs get 410
    'max_snapshots': 256,          # LIST snapshots kept for continue tokens
    'bookmark_interval_s': 2.0,    # BOOKMARK cadence for watches that allow them
    'default_watch_timeout_s': 1800,  # when the client sends no timeoutSeconds (randomised up to 2x)
    'watch_drop_after_s': 0.0,     # abruptly close every watch after ~N s (jittered 0.5N..1.5N); 0 = off
    'watch_drop_rate': 0.0,        # probability per sent event of an abrupt close (maybe mid-event)
    'expire_every_s': 0.0,         # compact history every N s; 0 = off
    'expire_kills_watches': True,  # compaction also ends open watches with an ERROR 410 event
    'watch_gone_as_http': False,   # watch from a too-old RV: HTTP 410 instead of 200 + ERROR event (and
                                   # watches ended by a compaction end cleanly, so the re-watch meets the 410)
    'error_5xx_rate': 0.0,         # probability per API request of a 500/503
    'error_429_rate': 0.0,         # probability per API request of a 429 with Retry-After
    'retry_after_s': 1,
    'faults_on_watch': True,       # 5xx/429 also hit watch requests
    'faults_on_discovery': False,  # 5xx/429 also hit discovery/version
    'faults_on_reviews': False,    # 5xx/429 and delay_ms also hit TokenReviews/SubjectAccessReviews (else: POST
                                   # /kubesim/auth {"unavailable": true} fails them on purpose)
    'review_delay_ms': 0.0,        # hold every TokenReview/SubjectAccessReview answer this long
    'chunked_threshold': 2048,     # bodies larger than this are sent chunked (as Go's net/http does); 0 = never
    'chunk_max': 0,                # split every chunk (watch events too) into chunks of at most N bytes
    'chunk_coalesce': False,       # put all events of a batch into one chunk
    'chunk_extensions': False,     # add chunk extensions and a trailer to chunked bodies
    'split_writes': False,         # write responses in random 1..split_max byte pieces
    'split_max': 7,
    'split_delay_ms': 0.0,         # pause between pieces
    'delay_ms': 0.0,               # delay before answering each API request
    'idle_close_s': 0.0,           # silently close keep-alive connections idle this long (0 = 600 s)
    'max_requests_per_conn': 0,    # answer the Nth request on a connection with Connection: close (0 = off)
    'token_grace_s': 0.0,          # how long the old token keeps working after a rotation
    'deny': [],                    # ["create deployments", "list pods", "* deployments", ...] -> 403
    'drop_after_create': 0,        # the next N creates are stored, then the connection closes unanswered
    'strict_namespaces': False,    # creating in (or getting) a namespace that does not exist -> 404
    'extra_namespaces': [],        # namespaces that exist besides default, kube-*, and --namespace
    'user': None,                  # user named in 403 messages
}


class Abort(Exception):
    """The connection was cut on purpose (fault injection) or died; stop handling it."""


# ---------------------------------------------------------------- certificates

def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write('kubesim: %s failed: %s\n' % (' '.join(cmd), r.stderr))
        sys.exit(1)


def gen_certs(d, algo, dns_names, ips):
    os.makedirs(d, exist_ok=True)
    keyargs = (['-newkey', 'rsa:2048'] if algo == 'rsa'
               else ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'])
    tag = secrets.token_hex(4)

    def ca(name, cn):
        run(['openssl', 'req', '-x509', '-nodes', *keyargs, '-sha256', '-days', '3650',
             '-keyout', os.path.join(d, name + '.key'), '-out', os.path.join(d, name + '.crt'),
             '-subj', '/CN=%s' % cn,
             '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'])

    ca('ca', 'kubesim-ca-' + tag)
    ca('other-ca', 'kubesim-other-ca-' + tag)
    run(['openssl', 'req', '-new', '-nodes', *keyargs, '-keyout', os.path.join(d, 'server.key'),
         '-out', os.path.join(d, 'server.csr'), '-subj', '/CN=kube-apiserver'])
    san = ','.join(['DNS:' + n for n in dns_names] + ['IP:' + i for i in ips])
    ku = 'digitalSignature,keyEncipherment' if algo == 'rsa' else 'digitalSignature'
    with open(os.path.join(d, 'server.ext'), 'w') as f:
        f.write('basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=serverAuth\n'
                'subjectAltName=%s\nauthorityKeyIdentifier=keyid,issuer\n' % (ku, san))
    run(['openssl', 'x509', '-req', '-sha256', '-days', '825', '-in', os.path.join(d, 'server.csr'),
         '-CA', os.path.join(d, 'ca.crt'), '-CAkey', os.path.join(d, 'ca.key'), '-CAcreateserial',
         '-out', os.path.join(d, 'server.crt'), '-extfile', os.path.join(d, 'server.ext')])


def get_certs(d, algo, dns_names, ips, cache):
    """gen_certs into d, or copy a set made earlier with the same parameters from the cache directory
    (RSA key generation costs seconds on a busy machine; tests start many simulators)."""
    if not cache:
        return gen_certs(d, algo, dns_names, ips)
    import hashlib
    import shutil
    key = hashlib.sha256(json.dumps([algo, dns_names, ips]).encode()).hexdigest()[:16]
    src = os.path.join(cache, '%s-%s' % (algo, key))
    if not os.path.exists(os.path.join(src, 'done')):
        tmp = '%s.tmp%d' % (src, os.getpid())
        gen_certs(tmp, algo, dns_names, ips)
        open(os.path.join(tmp, 'done'), 'w').close()
        try:
            os.rename(tmp, src)
        except OSError:            # another kubesim won the race; use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, d, dirs_exist_ok=True)


def gen_client_certs(d, ca_dir, user):
    """Client certificates the simulator's CA issues, RSA and EC, CN=user O=system:masters (as kind's admin)."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'client.ext'), 'w') as f:
        f.write('basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                'extendedKeyUsage=clientAuth\n')
    for algo, keyargs in (('rsa', ['-newkey', 'rsa:2048']),
                          ('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'])):
        key, csr, crt = (os.path.join(d, 'client-%s.%s' % (algo, x)) for x in ('key', 'csr', 'crt'))
        run(['openssl', 'req', '-new', '-nodes', *keyargs, '-keyout', key, '-out', csr,
             '-subj', '/O=system:masters/CN=%s' % user])
        run(['openssl', 'x509', '-req', '-sha256', '-days', '825', '-in', csr, '-CA', os.path.join(ca_dir, 'ca.crt'),
             '-CAkey', os.path.join(ca_dir, 'ca.key'), '-CAcreateserial', '-out', crt,
             '-extfile', os.path.join(d, 'client.ext')])


def kind_kubeconfig(url, ca_pem, user_fields, name='kind-kubesim'):
    """A kubeconfig in YAML as kind writes it (inline base64 CA, one cluster/context/user)."""
    import base64
    b64 = lambda b: base64.b64encode(b).decode()
    lines = ['apiVersion: v1', 'clusters:', '- cluster:']
    if ca_pem is not None:
        lines.append('    certificate-authority-data: ' + b64(ca_pem))
    lines += ['    server: ' + url, '  name: ' + name, 'contexts:', '- context:', '    cluster: ' + name,
              '    user: ' + name, '  name: ' + name, 'current-context: ' + name, 'kind: Config',
              'preferences: {}', 'users:', '- name: ' + name, '  user:']
    for k, v in user_fields:
        lines.append('    %s: %s' % (k, b64(v) if isinstance(v, bytes) else v))
    return '\n'.join(lines) + '\n'


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- the simulator state shared by handlers

class Sim:
    def __init__(self, args):
        self.args = args
        self.knobs = dict(DEFAULT_KNOBS)
        self.nodes = []
        self.store = Store(self.knobs, self.nodes)
        self.ctrl = Controller(self.store)
        self.tokens = {}          # token -> expiry (None = valid until rotated)
        self.token = None
        self.token_file = None
        self.namespace = args.namespace
        self.stats = {}
        self.stats_lock = threading.Lock()
        self.patches = []      # the last PATCHes of Deployments: {name, content_type, body} (admin "patches")
        self.events = {}       # core/v1 Events by (namespace, name): create, merge patch, get, list
        self.start = time.time()
        self.url = ''
        self.active_watches = 0
        self.reqlog = None

    def log_request(self, method, path, code, dt, closed):
        """DIR/requests.log: one line per request, to see what a client under test actually did."""
        if self.reqlog is None:
            return
        line = '%s %s %s %s %.3fs%s\n' % (time.strftime('%H:%M:%S', time.gmtime()), method, path,
                                           code or 'cut', dt, ' close' if closed else '')
        with self.stats_lock:
            try:
                self.reqlog.write(line)
            except (OSError, ValueError):
                pass

    def count(self, key, n=1):
        with self.stats_lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def token_ok(self, tok):
        now = time.time()
        with self.stats_lock:
            exp = self.tokens.get(tok, 0)
            return tok in self.tokens and (exp is None or exp > now)

    def rotate_token(self, new=None, grace=None):
        new = new or secrets.token_urlsafe(32)
        grace = float(self.knobs['token_grace_s'] if grace is None else grace)
        now = time.time()
        with self.stats_lock:
            old = self.token
            for t in list(self.tokens):
                if self.tokens[t] is None:
                    self.tokens[t] = now + grace
                if self.tokens[t] is not None and self.tokens[t] <= now:
                    del self.tokens[t]
            self.tokens[new] = None
            self.token = new
        write_atomic(self.token_file, new)
        return {'token': new, 'old': old, 'grace_s': grace}

    def set_nodes(self, nodes):
        with self.store.lock:
            self.nodes[:] = nodes
            self.ctrl.nodes_changed()

    def controller_loop(self):
        while True:
            # paces the controller (the tick_ms knob), not a wait
            time.sleep(max(1.0, float(self.knobs.get('tick_ms', 20))) / 1000.0)
            try:
                self.ctrl.tick()
            except Exception as e:   # keep simulating; a bug here must not hang every test
                sys.stderr.write('kubesim: controller error: %r\n' % (e,))
                import traceback
                traceback.print_exc()

    def expiry_loop(self):
        last = time.time()
        while True:
            time.sleep(0.1)    # paces the expiry check (expire_every_s), not a wait
            every = float(self.knobs.get('expire_every_s') or 0)
            if every > 0 and time.time() - last >= every:
                self.store.compact(kill_watches=bool(self.knobs.get('expire_kills_watches')))
                self.count('fault_compactions')
                last = time.time()
            elif every <= 0:
                last = time.time()


# ---------------------------------------------------------------- HTTP

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, sim, ctx, family):
        self.address_family = family
        self.sim = sim
        self.ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # Runs in the connection's own thread, so a slow handshake blocks nobody else.
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ctx is not None:
            try:
                request.settimeout(10)
                request = self.ctx.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                self.sim.count('tls_handshake_failures')
                try:
                    request.close()
                except OSError:
                    pass
                if self.sim.args.verbose:
                    sys.stderr.write('kubesim: TLS handshake failed: %s\n' % e)
                return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, Abort, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class Handler(kubesim_admin.AdminMixin, kubesim_api.ApiMixin, BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'kubesim'
    sys_version = ''
    timeout = 600

    def log_error(self, fmt, *args):
        if fmt.startswith('Request timed out'):
            self.server.sim.count('idle_closes')     # a keep-alive connection closed while idle
        self.log_message(fmt, *args)

    def log_message(self, fmt, *args):
        if self.server.sim.args.verbose:
            sys.stderr.write('kubesim: %s %s\n' % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch('GET')

    def do_POST(self):
        self.dispatch('POST')

    def do_PUT(self):
        self.dispatch('PUT')

    def do_PATCH(self):
        self.dispatch('PATCH')

    def do_DELETE(self):
        self.dispatch('DELETE')

    def do_HEAD(self):
        self.dispatch('HEAD')

    # ------------------------------------------------------------ raw output with fault injection
    def out(self, data, split=None):
        sim = self.server.sim
        k = sim.knobs
        if split is None:
            split = self.faultable and k.get('split_writes')
        try:
            if not split:
                self.connection.sendall(data)
                return
            sim.count('fault_split_writes')
            mx = max(1, int(k.get('split_max', 7)))
            dl = float(k.get('split_delay_ms') or 0) / 1000.0
            i = 0
            while i < len(data):
                n = random.randint(1, mx)
                self.connection.sendall(data[i:i + n])
                i += n
                if dl:
                    time.sleep(random.uniform(0, dl))    # the split_delay_ms fault (pacing the answer), not a wait
        except (OSError, ssl.SSLError):
            self.close_connection = True
            raise Abort()

    def abort(self, partial=b''):
        """Cut the connection without a clean end: what a dropped watch looks like to the client."""
        if partial:
            try:
                self.connection.sendall(partial)
            except OSError:
                pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True
        raise Abort()

    def head_bytes(self, code, headers, length=None, chunked=False):
        phrase = http.HTTPStatus(code).phrase if code in http.HTTPStatus._value2member_map_ else 'Status'
        lines = ['HTTP/1.1 %d %s' % (code, phrase),
                 'Audit-Id: %s' % uuid.uuid4(),
                 'Cache-Control: no-cache, private']
        h = {'Content-Type': 'application/json'}
        h.update(headers or {})
        for k, v in h.items():
            lines.append('%s: %s' % (k, v))
        lines.append('X-Kubernetes-Pf-Flowschema-Uid: %s' % self.server.sim.pf_uid)
        lines.append('X-Kubernetes-Pf-Prioritylevel-Uid: %s' % self.server.sim.pl_uid)
        lines.append('Date: %s' % self.date_time_string())
        if chunked:
            lines.append('Transfer-Encoding: chunked')
            if self.server.sim.knobs.get('chunk_extensions'):
                lines.append('Trailer: X-Kubesim-Trailer')
        elif length is not None:
            lines.append('Content-Length: %d' % length)
        if self.close_connection:
            lines.append('Connection: close')
        return ('\r\n'.join(lines) + '\r\n\r\n').encode()

    def chunk(self, payload, size=None):
        """Chunked-encodes payload (one chunk, or pieces of chunk_max / size bytes)."""
        k = self.server.sim.knobs
        mx = int(k.get('chunk_max') or 0) or size or 0
        ext = b';kubesim=1' if k.get('chunk_extensions') else b''
        if not mx or len(payload) <= mx:
            return b'%x%s\r\n%s\r\n' % (len(payload), ext, payload)
        return b''.join(b'%x%s\r\n%s\r\n' % (len(payload[i:i + mx]), ext, payload[i:i + mx])
                        for i in range(0, len(payload), mx))

    def last_chunk(self):
        if self.server.sim.knobs.get('chunk_extensions'):
            return b'0;kubesim=end\r\nX-Kubesim-Trailer: done\r\n\r\n'
        return b'0\r\n\r\n'

    def send_json(self, code, obj, headers=None):
        body = b'' if obj is None else json.dumps(obj, separators=(',', ':')).encode()
        if obj is not None:
            body += b'\n'
        thr = int(self.server.sim.knobs.get('chunked_threshold') or 0)
        if thr > 0 and len(body) > thr and self.request_version != 'HTTP/1.0':
            # Like Go's net/http under the apiserver: bodies past its first buffer go out chunked.
            data = self.head_bytes(code, headers, chunked=True)
            if self.command != 'HEAD':
                data += self.chunk(body, 4096) + self.last_chunk()
        else:
            data = self.head_bytes(code, headers, len(body))
            if self.command != 'HEAD':
                data += body
        self.out(data)
        self.status_code = code

    def send_error_status(self, e):
        self.send_json(e.code, e.status(), e.headers)

    def read_body(self):
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b''.join(parts)
        n = int(self.headers.get('Content-Length') or 0)
        if n > 64 * 1024 * 1024:
            raise ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728')
        return self.rfile.read(n) if n else b''


def parse_listen(s):
    m = re.match(r'^\[([^\]]+)\]:(\d+)$', s) or re.match(r'^([^:]*):(\d+)$', s)
    if not m:
        raise SystemExit('kubesim: bad --listen %r (want HOST:PORT or [V6]:PORT)' % s)
    host = m.group(1) or '127.0.0.1'
    return host, int(m.group(2))


def coerce(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def main(argv=None):
    ap = argparse.ArgumentParser(description='Kubernetes API simulator for cplane tests')
    ap.add_argument('--listen', default='127.0.0.1:0')
    ap.add_argument('--state-dir', required=True)
    ap.add_argument('--ca', choices=('rsa', 'ecdsa'), default='rsa')
    ap.add_argument('--token', default=None)
    ap.add_argument('--client-token', default=None, help='the token DIR/client-token holds (default: random)')
    ap.add_argument('--namespace', default='default')
    ap.add_argument('--node', action='append', default=[], metavar='LABEL=VALUE',
                    help='label of the simulated node (repeatable; all on one node unless --nodes)')
    ap.add_argument('--nodes', type=int, default=1, help='number of simulated nodes (all get --node labels)')
    ap.add_argument('--ready-pace-ms', type=float, default=100)
    ap.add_argument('--instant', action='store_true')
    ap.add_argument('--plain-http', action='store_true')
    ap.add_argument('--cert-dns', default='kubernetes.default.svc,kubernetes.default,kubernetes,'
                    'kubernetes.default.svc.cluster.local,localhost',
                    help='comma-separated DNS SANs of the server certificate')
    ap.add_argument('--cert-ips', default='127.0.0.1,::1')
    ap.add_argument('--pki-cache', default=None, metavar='DIR',
                    help='reuse certificates generated earlier with the same --ca/--cert-* from DIR')
    ap.add_argument('--knob', action='append', default=[], metavar='KEY=VALUE',
                    help='set a fault/behaviour knob at start (JSON value or string), see DEFAULT_KNOBS')
    ap.add_argument('--drop-watch-after', type=float, default=None)
    ap.add_argument('--error-5xx-rate', type=float, default=None)
    ap.add_argument('--error-429-rate', type=float, default=None)
    ap.add_argument('--split-writes', action='store_true')
    ap.add_argument('--delay-ms', type=float, default=None)
    ap.add_argument('--expire-every', type=float, default=None)
    ap.add_argument('--seed', type=int, default=None, help='seed the fault dice (names, pieces, drops)')
    ap.add_argument('--client-cert-auth', action='store_true',
                    help='ask TLS clients for a certificate (optional) from the CA; its CN is the user; '
                         'writes DIR/kubeconfig-cert-{rsa,ec}.yaml as kind does')
    ap.add_argument('--verbose', '-v', action='store_true')
    args = ap.parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)

    sim = Sim(args)
    sim.pf_uid = str(uuid.uuid4())
    sim.pl_uid = str(uuid.uuid4())
    k = sim.knobs
    k['ready_pace_ms'] = args.ready_pace_ms
    k['instant'] = args.instant
    k['user'] = 'system:serviceaccount:%s:cplane' % args.namespace
    for name, val in (('watch_drop_after_s', args.drop_watch_after), ('error_5xx_rate', args.error_5xx_rate),
                      ('error_429_rate', args.error_429_rate), ('delay_ms', args.delay_ms),
                      ('expire_every_s', args.expire_every)):
        if val is not None:
            k[name] = val
    if args.split_writes:
        k['split_writes'] = True
    for kv in args.knob:
        key, _, val = kv.partition('=')
        if key not in DEFAULT_KNOBS:
            ap.error('unknown knob %r' % key)
        k[key] = coerce(val)
    labels = {}
    for kv in args.node:
        key, _, val = kv.partition('=')
        labels[key] = val
    sim.nodes[:] = [{'name': 'kubesim-node-%d' % i, 'labels': dict(labels)} for i in range(max(0, args.nodes))]

    sd = os.path.abspath(args.state_dir)
    os.makedirs(sd, exist_ok=True)
    sa = os.path.join(sd, 'serviceaccount')
    os.makedirs(sa, exist_ok=True)
    ctx = None
    if not args.plain_http:
        get_certs(os.path.join(sd, 'pki'), args.ca, [n for n in args.cert_dns.split(',') if n],
                  [i for i in args.cert_ips.split(',') if i], args.pki_cache)
        with open(os.path.join(sd, 'pki', 'ca.crt')) as f:
            write_atomic(os.path.join(sa, 'ca.crt'), f.read())
        with open(os.path.join(sd, 'pki', 'other-ca.crt')) as f:
            write_atomic(os.path.join(sd, 'other-ca.crt'), f.read())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(sd, 'pki', 'server.crt'), os.path.join(sd, 'pki', 'server.key'))
        ctx.set_alpn_protocols(['http/1.1'])
        if args.client_cert_auth:
            gen_client_certs(os.path.join(sd, 'client'), os.path.join(sd, 'pki'), 'kubesim-admin')
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(os.path.join(sd, 'pki', 'ca.crt'))
    sim.reqlog = open(os.path.join(sd, 'requests.log'), 'a', buffering=1)
    write_atomic(os.path.join(sa, 'namespace'), args.namespace)
    sim.token_file = os.path.join(sa, 'token')
    sim.rotate_token(args.token or secrets.token_urlsafe(32), grace=0)
    sim.auth = kubesim_auth.Auth(sim, args.namespace, k['user'])
    if args.client_token:
        sim.auth.users[args.client_token] = sim.auth.users.pop(sim.auth.client_token)
        sim.auth.client_token = args.client_token
    client_token_file = os.path.join(sd, 'client-token')
    write_atomic(client_token_file, sim.auth.client_token)

    host, port = parse_listen(args.listen)
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    srv = Server((host, port), Handler, sim, ctx, family)
    port = srv.server_address[1]
    scheme = 'http' if args.plain_http else 'https'
    hostpart = '[%s]' % host if ':' in host else host
    sim.url = '%s://%s:%d' % (scheme, hostpart, port)
    kubeconfig = os.path.join(sd, 'kubeconfig')
    cluster = {'server': sim.url}
    if ctx is not None:
        cluster['certificate-authority'] = os.path.join(sa, 'ca.crt')
    write_atomic(kubeconfig, json.dumps({
        'apiVersion': 'v1', 'kind': 'Config',
        'clusters': [{'name': 'kubesim', 'cluster': cluster}],
        'users': [{'name': 'kubesim', 'user': {'tokenFile': sim.token_file}}],
        'contexts': [{'name': 'kubesim', 'context': {'cluster': 'kubesim', 'user': 'kubesim',
                                                     'namespace': args.namespace}}],
        'current-context': 'kubesim'}, indent=1))

    # kind's flavours, in YAML: a token, and (with --client-cert-auth) client certificates.
    ca_pem = open(os.path.join(sa, 'ca.crt'), 'rb').read() if ctx is not None else None
    kubeconfigs = {'token': os.path.join(sd, 'kubeconfig-token.yaml')}
    write_atomic(kubeconfigs['token'], kind_kubeconfig(sim.url, ca_pem, [('token', sim.token)]))
    if ctx is not None and args.client_cert_auth:
        for algo in ('rsa', 'ec'):
            cd = os.path.join(sd, 'client')
            kubeconfigs['cert-' + algo] = os.path.join(sd, 'kubeconfig-cert-%s.yaml' % algo)
            write_atomic(kubeconfigs['cert-' + algo], kind_kubeconfig(sim.url, ca_pem, [
                ('client-certificate-data', open(os.path.join(cd, 'client-%s.crt' % algo), 'rb').read()),
                ('client-key-data', open(os.path.join(cd, 'client-%s.key' % algo), 'rb').read())]))

    for fn in (sim.controller_loop, sim.expiry_loop):
        threading.Thread(target=fn, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    ready = {'port': port, 'url': sim.url, 'sa_dir': sa, 'ca': os.path.join(sa, 'ca.crt') if ctx else None,
             'token': sim.token, 'token_file': sim.token_file, 'namespace': args.namespace,
             'kubeconfig': kubeconfig, 'other_ca': os.path.join(sd, 'other-ca.crt') if ctx else None,
             'state_dir': sd, 'admin': sim.url + '/kubesim', 'pid': os.getpid(),
             'client_token': sim.auth.client_token, 'client_token_file': client_token_file,
             'client_user': sim.auth.client_user['username'], 'kubeconfigs': kubeconfigs}
    write_atomic(os.path.join(sd, 'ready.json'), json.dumps(ready))
    sys.stdout.write(json.dumps(ready) + '\n')
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.2)


if __name__ == '__main__':
    main()
