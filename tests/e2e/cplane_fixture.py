"""Run the real worker (build/cplane) against kubesim, and call it with grpcio.

    sim = start_kubesim(tmp_path, '--instant', '--node', POOL)
    w = start_worker(sim, tmp_path, '--create-timeout', '20s')
    c = Client(w.target)              # sends sim.client_token (auth is on; kubesim grants it every verb)
    r = c.create('demo', 3)           # CreateClusterResponse
    c.get('demo').phase == pb.READY
    w.stop()                          # SIGTERM, waits, returns the exit code
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("CPLANE_BIN") or os.path.join(ROOT, "build", "cplane")
POOL = "cplane.dev/pool=subtask-topology-aware"

_pb = {}


def pb2():
    """cplane.v1 and grpc.health.v1 message modules, generated with protoc at test time."""
    if not _pb:
        out = tempfile.mkdtemp(prefix="cplane-pb2-")
        subprocess.run(["protoc", "--proto_path=" + os.path.join(ROOT, "proto"), "--python_out=" + out,
                        "cplane/v1/cplane.proto"], check=True)
        for d in ("cplane", "cplane/v1"):
            open(os.path.join(out, d, "__init__.py"), "a").close()
        sys.path.insert(0, out)
        from cplane.v1 import cplane_pb2  # noqa: E402
        _pb["cplane"] = cplane_pb2
    return _pb["cplane"]


# grpc.health.v1 by hand: a generated "grpc" package would shadow grpcio's own.
HEALTH_SERVING = 1
HEALTH_NOT_SERVING = 2


def health_request(service=""):
    data = service.encode()
    return (b"\x0a" + bytes([len(data)]) + data) if data else b""


def health_status(resp):
    """ServingStatus from a serialized HealthCheckResponse (field 1, varint)."""
    i = 0
    while i < len(resp):
        key = resp[i]
        i += 1
        if key == 0x08:
            v, shift = 0, 0
            while True:
                b = resp[i]
                i += 1
                v |= (b & 0x7f) << shift
                shift += 7
                if not b & 0x80:
                    return v
        return None
    return 0


def health_check(target, service="", timeout=2):
    ch = grpc.insecure_channel(target)
    try:
        r = ch.unary_unary("/grpc.health.v1.Health/Check")(health_request(service), timeout=timeout)
        return health_status(r)
    finally:
        ch.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)    # polls inside wait_port's bounded loop
    raise TimeoutError("nothing listens on %d" % port)


class Worker:
    def __init__(self, proc, port, log_path, metrics_port=None):
        self.proc = proc
        self.port = port
        self.target = "127.0.0.1:%d" % port
        self.log_path = log_path
        self.metrics_port = metrics_port
        self.client_token = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def metric(self, series):
        """The value of one series on the metrics endpoint (start_worker(metrics=True)), e.g.
        'cplane_k8s_requests_total{verb="create",code="201"}'; 0 when it is not there (yet)."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=10) as r:
            text = r.read().decode()
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        return 0.0

    def wait_metric(self, series, at_least, timeout=20.0):
        """Waits until a counter reaches at_least (the fact a test waits for, not a time)."""
        return wait_until(lambda: self.metric(series) >= at_least, timeout,
                          "%s >= %s" % (series, at_least))

    def wait_log(self, text, timeout=20.0):
        """Waits until the worker's log holds text."""
        return wait_until(lambda: text in self.log(), timeout, "%r in the worker's log" % text)


def wait_until(pred, timeout=20.0, what="condition", interval=0.02):
    """Polls pred until it is true (returns its value); fails the test after timeout seconds.
    The one place e2e tests pause: every wait is for a fact (a counter, a state, a log line)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)    # polls inside wait_until's bounded loop


def K8S(verb, code):
    """The worker's series counting Kubernetes requests by verb and HTTP code (0 = no answer)."""
    return 'cplane_k8s_requests_total{verb="%s",code="%d"}' % (verb, code)


def worker_args(sim, port, *extra, metrics_port=None, node_selector=POOL):
    args = [BIN, "--listen", "127.0.0.1:%d" % port, "--apiserver", sim.url,
            "--token-file", os.path.join(sim.sa_dir, "token"),
            "--namespace", sim.namespace]
    if sim.tls:
        args += ["--ca-file", os.path.join(sim.sa_dir, "ca.crt")]
    if node_selector:
        args += ["--node-selector", node_selector]
    if metrics_port:
        args += ["--metrics-addr", "127.0.0.1:%d" % metrics_port]
    return args + list(extra)


# target -> the token Client(target) sends by default: kubesim's client token for the workers started here.
_TOKENS = {}


def start_worker(sim, tmpdir, *extra, metrics=False, port=None, env=None, node_selector=POOL, wait_synced=True):
    port = port or free_port()
    _TOKENS["127.0.0.1:%d" % port] = getattr(sim, "client_token", None)
    mport = free_port() if metrics else None
    log_path = os.path.join(str(tmpdir), "worker-%d.log" % port)
    logf = open(log_path, "ab")
    proc = subprocess.Popen(worker_args(sim, port, *extra, metrics_port=mport, node_selector=node_selector),
                            stdout=logf, stderr=subprocess.STDOUT, env=env if env is not None else {})
    logf.close()
    w = Worker(proc, port, log_path, mport)
    w.client_token = _TOKENS.get(w.target)      # what a caller the simulator grants sends
    try:
        wait_port(port, 15, proc)
        if wait_synced:
            wait_serving(w.target, 15)
    except Exception:
        w.kill9()
        raise RuntimeError("worker did not start:\n" + w.log())
    return w


def wait_serving(target, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if health_check(target) == HEALTH_SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.05)    # polls inside wait_serving's bounded loop
    raise TimeoutError("worker at %s never became SERVING" % target)


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds authorization: Bearer <token> to every call (what the driver does)."""

    def __init__(self, token):
        self.md = ("authorization", "Bearer " + token)

    def _details(self, d):
        return d._replace(metadata=list(d.metadata or []) + [self.md])

    def intercept_unary_unary(self, cont, d, req):
        return cont(self._details(d), req)

    def intercept_unary_stream(self, cont, d, req):
        return cont(self._details(d), req)


def authorized(channel, target):
    """channel with the token Client(target) would send on every call (itself when there is none)."""
    tok = _TOKENS.get(target)
    return grpc.intercept_channel(channel, _Bearer(tok)) if tok else channel


class Client:
    """grpcio calls of cplane.v1.ClusterService with the generated message classes.

    token: the bearer token every call carries; by default the kubesim client token of the worker
    start_worker() started at target (none for other targets); None sends no authorization."""

    def __init__(self, target, token="default"):
        self.pb = pb2()
        if token == "default":
            token = _TOKENS.get(target)
        self.raw_channel = grpc.insecure_channel(target)
        self.channel = grpc.intercept_channel(self.raw_channel, _Bearer(token)) if token else self.raw_channel
        pb = self.pb

        def uu(name, req, resp):
            return self.channel.unary_unary("/cplane.v1.ClusterService/" + name,
                                            request_serializer=req.SerializeToString,
                                            response_deserializer=resp.FromString)
        self._create = uu("CreateCluster", pb.CreateClusterRequest, pb.CreateClusterResponse)
        self._delete = uu("DeleteCluster", pb.DeleteClusterRequest, pb.DeleteClusterResponse)
        self._get = uu("GetCluster", pb.GetClusterRequest, pb.Cluster)
        self._list = uu("ListClusters", pb.ListClustersRequest, pb.ListClustersResponse)
        self._watch = self.channel.unary_stream("/cplane.v1.ClusterService/WatchCluster",
                                                request_serializer=pb.WatchClusterRequest.SerializeToString,
                                                response_deserializer=pb.Cluster.FromString)

    def create(self, name, replicas=1, image="", timeout=30):
        return self._create(self.pb.CreateClusterRequest(name=name, replicas=replicas, image=image),
                            timeout=timeout)

    def create_future(self, name, replicas=1, image="", timeout=30):
        return self._create.future(self.pb.CreateClusterRequest(name=name, replicas=replicas, image=image),
                                   timeout=timeout)

    def delete(self, name, timeout=30):
        return self._delete(self.pb.DeleteClusterRequest(name=name), timeout=timeout)

    def delete_future(self, name, timeout=30):
        return self._delete.future(self.pb.DeleteClusterRequest(name=name), timeout=timeout)

    def get(self, name, timeout=10):
        return self._get(self.pb.GetClusterRequest(name=name), timeout=timeout)

    def list(self, timeout=10):
        return self._list(self.pb.ListClustersRequest(), timeout=timeout)

    def watch(self, name, timeout=30):
        return self._watch(self.pb.WatchClusterRequest(name=name), timeout=timeout)

    def close(self):
        self.raw_channel.close()


def phase_of(c, name):
    """The cluster's phase as GetCluster says, or None while it is not found."""
    try:
        return c.get(name).phase
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def code_of(fn, *args, **kw):
    """Runs a call expected to fail; returns (grpc.StatusCode, details)."""
    try:
        fn(*args, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("call succeeded")


# ---- shared by the worker suites --------------------------------------------

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


@pytest.fixture
def sim(tmp_path):
    """A fresh kubesim (10 ms a pod, one node labelled POOL) for one test."""
    from kubesim_fixture import start_kubesim
    s = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "10", "--node", POOL)
    yield s
    s.stop()


def deployments(sim):
    """kubesim's Deployments in the namespace, by name."""
    code, obj = sim.api("GET", NS_DEPLOY % sim.namespace)
    assert code == 200
    return {d["metadata"]["name"]: d for d in obj["items"]}


def outcome(fn, *a, **kw):
    """Runs a call; returns ("OK", result field or None) or (status name, details)."""
    try:
        r = fn(*a, **kw)
        return ("OK", getattr(r, "result", None))
    except grpc.RpcError as e:
        return (e.code().name, e.details())
