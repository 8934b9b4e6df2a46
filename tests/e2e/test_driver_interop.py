"""The driver against a ClusterService written with python3-grpcio and scripted per
test: IN_PROGRESS answers followed with WatchCluster, live progress on a
terminal over the Create's own connection, and every gRPC status code mapped to
its exit status (10 + code) with the status name on stderr."""
import os
import pty
import re
import select
import subprocess
import threading
import time
from concurrent import futures

import grpc
import pytest

from cplane_fixture import BIN, pb2

SERVICE = "cplane.v1.ClusterService"


class Scripted:
    """ClusterService whose methods are whatever the test assigns (create, delete, get, list, watch)."""

    def __init__(self, host="127.0.0.1"):
        pb = self.pb = pb2()
        self.calls = []                      # (method, request, peer, time_remaining)
        self.lock = threading.Lock()
        self.create = self.delete = self.get = self.list = self.watch = None
        # set when a WatchCluster ends in any way; the tests' watches are held open for 20 s, so
        # ending much sooner means the driver cancelled it (or closed the connection)
        self.watch_ended = threading.Event()

        def wrap(name):
            def fn(req, ctx):
                with self.lock:
                    self.calls.append((name, req, ctx.peer(), ctx.time_remaining()))
                impl = getattr(self, name)
                if name == "watch":
                    ctx.add_callback(self.watch_ended.set)
                if impl is None:
                    ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "not scripted")
                return impl(req, ctx)
            return fn

        def ser(m):                          # raw bytes pass as they are: malformed answers
            return m if isinstance(m, bytes) else m.SerializeToString()

        def uu(name, req, resp):
            return grpc.unary_unary_rpc_method_handler(wrap(name), request_deserializer=req.FromString,
                                                       response_serializer=ser)
        handlers = {
            "CreateCluster": uu("create", pb.CreateClusterRequest, pb.CreateClusterResponse),
            "DeleteCluster": uu("delete", pb.DeleteClusterRequest, pb.DeleteClusterResponse),
            "GetCluster": uu("get", pb.GetClusterRequest, pb.Cluster),
            "ListClusters": uu("list", pb.ListClustersRequest, pb.ListClustersResponse),
            "WatchCluster": grpc.unary_stream_rpc_method_handler(
                wrap("watch"), request_deserializer=pb.WatchClusterRequest.FromString,
                response_serializer=ser),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("%s:0" % host)
        self.target = "%s:%d" % (host, self.port)
        self.server.start()

    def methods(self):
        with self.lock:
            return [c[0] for c in self.calls]

    def call(self, name):
        with self.lock:
            return next(c for c in self.calls if c[0] == name)

    def cluster(self, name, replicas, ready, phase, message=""):
        return self.pb.Cluster(name=name, replicas=replicas, ready_replicas=ready, phase=phase, message=message,
                               image="registry.k8s.io/pause:3.9", created_unix_ms=int(time.time() * 1000))

    @staticmethod
    def hold_until_cancelled(ctx, limit=20):
        """Keeps a stream open until the client cancels it (bounded)."""
        end = time.monotonic() + limit
        while ctx.is_active() and time.monotonic() < end:
            time.sleep(0.01)    # polls inside a bounded loop until the client cancels

    def stop(self):
        self.server.stop(0)


@pytest.fixture
def svc():
    s = Scripted()
    yield s
    s.stop()


def drv(svc, *args, timeout=30):
    p = subprocess.run([BIN, "--driver", "--target", svc.target] + list(args), env={}, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def drv_tty(target, *args, timeout=30, env=None):
    """Runs the driver with stderr on a pseudo-terminal; returns (exit status, stdout, what the terminal got)."""
    m, s = pty.openpty()
    p = subprocess.Popen([BIN, "--driver", "--target", target] + list(args), env=dict(env or {}),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=s)
    os.close(s)
    term = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([m], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(m, 65536)
                except OSError:            # EIO: the child closed its side
                    break
                if not chunk:
                    break
                term += chunk
            elif p.poll() is not None:
                break
        out = p.stdout.read()
        p.wait(timeout=max(1, end - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        os.close(m)
    return p.returncode, out.decode(), term.decode()


def msgs(err):
    return re.findall(r'msg=("[^"]*"|\S+)', err)


# ---- Create answered IN_PROGRESS: follow with WatchCluster until READY --------------------


def test_create_in_progress_follows_the_watch_until_ready(svc):
    pb = svc.pb

    def watch(req, ctx):
        for ready in range(0, 4):
            yield svc.cluster(req.name, 3, ready, pb.READY if ready == 3 else pb.CREATING)
            time.sleep(0.02)    # paces the stream (one update at a time), not a wait
        svc.hold_until_cancelled(ctx)      # READY alone must end it: the stream stays open

    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.IN_PROGRESS,
                                                           cluster=svc.cluster(req.name, 3, 0, pb.CREATING))
    svc.watch = watch
    rc, out, err = drv(svc, "create", "follow", "--replicas", "3")
    assert (rc, out) == (0, ""), err
    assert msgs(err) == ['"Creating cluster"', '"Cluster is being created by another call; following it"',
                         '"Created cluster"']
    assert re.search(r'msg="Created cluster" name=follow replicas=3 took=\S+$', err.splitlines()[-1])
    assert svc.methods() == ["create", "watch"]
    create, watch_call = svc.call("create"), svc.call("watch")
    assert (create[1].name, create[1].replicas, create[1].image) == ("follow", 3, "")
    assert watch_call[1].name == "follow"
    assert create[2] == watch_call[2], "the watch shares the Create's connection"
    assert svc.watch_ended.wait(5), "the driver cancels the watch it no longer needs"


def test_create_in_progress_json_prints_the_ready_cluster(svc):
    pb = svc.pb

    def watch(req, ctx):
        yield svc.cluster(req.name, 2, 1, pb.CREATING)
        yield svc.cluster(req.name, 2, 2, pb.READY, "2/2 replicas available")
        svc.hold_until_cancelled(ctx)

    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = watch
    rc, out, err = drv(svc, "create", "fj", "--replicas", "2", "-o", "json")
    assert rc == 0, err
    assert re.fullmatch(r'\{"name":"fj","replicas":2,"readyReplicas":2,"phase":"READY",'
                        r'"message":"2/2 replicas available","image":"registry\.k8s\.io/pause:3\.9",'
                        r'"createdUnixMs":"\d+","updatedReplicas":0\}\n', out), out


def test_create_in_progress_then_failed_is_deadline_exceeded(svc):
    pb = svc.pb

    def watch(req, ctx):
        yield svc.cluster(req.name, 2, 0, pb.CREATING)
        yield svc.cluster(req.name, 2, 0, pb.FAILED, "ProgressDeadlineExceeded: 0/2 available")
        svc.hold_until_cancelled(ctx)

    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = watch
    rc, out, err = drv(svc, "create", "doomed", "--replicas", "2")
    assert rc == 14
    assert err.splitlines()[-1] == ("cplane: create: DEADLINE_EXCEEDED: cluster doomed failed: "
                                    "ProgressDeadlineExceeded: 0/2 available")


def test_create_in_progress_watch_ends_before_ready_is_aborted(svc):
    pb = svc.pb

    def watch(req, ctx):
        yield svc.cluster(req.name, 2, 0, pb.CREATING)

    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = watch
    rc, out, err = drv(svc, "create", "vanish", "--replicas", "2")
    assert rc == 20
    assert err.splitlines()[-1] == "cplane: watch: ABORTED: the cluster was deleted before it was ready"


# ---- Delete answered IN_PROGRESS: watch until the stream ends after DELETED ---------------


def test_delete_in_progress_watches_until_the_stream_ends(svc):
    pb = svc.pb
    sent = []

    def watch(req, ctx):
        for c in (svc.cluster(req.name, 2, 2, pb.DELETING), svc.cluster(req.name, 2, 1, pb.DELETING),
                  pb.Cluster(name=req.name, replicas=2, phase=pb.DELETED)):
            sent.append(c.phase)
            yield c
            time.sleep(0.02)    # paces the stream (one update at a time), not a wait

    svc.delete = lambda req, ctx: pb.DeleteClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = watch
    rc, out, err = drv(svc, "delete", "going")
    assert (rc, out) == (0, ""), err
    assert msgs(err) == ['"Deleting cluster"', '"Cluster is being deleted by another call; following it"',
                         '"Deleted cluster"']
    assert re.search(r'msg="Deleted cluster" name=going took=\S+$', err.splitlines()[-1])
    assert sent == [pb.DELETING, pb.DELETING, pb.DELETED]
    assert svc.methods() == ["delete", "watch"]


def test_delete_in_progress_already_gone_is_done(svc):
    pb = svc.pb
    svc.delete = lambda req, ctx: pb.DeleteClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = lambda req, ctx: ctx.abort(grpc.StatusCode.NOT_FOUND, "cluster gone not found")
    rc, out, err = drv(svc, "delete", "gone")
    assert rc == 0, err
    assert msgs(err)[-1] == '"Deleted cluster"'


# ---- the demo and the live progress on a terminal -----------------------------------------


def test_demo_requests_and_four_lines(svc):
    pb = svc.pb
    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.SUCCESS,
                                                           cluster=svc.cluster(req.name, 30, 30, pb.READY))
    svc.delete = lambda req, ctx: pb.DeleteClusterResponse(result=pb.SUCCESS)
    rc, out, err = drv(svc, "--timeout", "1m")
    assert (rc, out) == (0, ""), err
    lines = err.splitlines()
    assert [re.sub(r'^time="\S+" level=info ', "", re.sub(r"took=\S+", "took=D", ln)) for ln in lines] == [
        'msg="Creating cluster" name=demo replicas=30',
        'msg="Created cluster" name=demo replicas=30 took=D',
        'msg="Deleting cluster" name=demo',
        'msg="Deleted cluster" name=demo took=D']
    assert svc.methods() == ["create", "delete"]
    create = svc.call("create")
    assert (create[1].name, create[1].replicas, create[1].image) == ("demo", 30, "")
    assert create[3] is not None and 0 < create[3] <= 60, "the --timeout goes out as grpc-timeout"
    assert svc.call("delete")[1].name == "demo"


def test_terminal_shows_live_progress_over_the_create_connection(svc):
    pb = svc.pb
    streamed = threading.Event()

    def create(req, ctx):
        streamed.wait(10)
        return pb.CreateClusterResponse(result=pb.SUCCESS, cluster=svc.cluster(req.name, 30, 30, pb.READY))

    def watch(req, ctx):
        for ready in range(0, 31):
            yield svc.cluster(req.name, 30, ready, pb.READY if ready == 30 else pb.CREATING)
            time.sleep(0.01)    # paces the stream (one update at a time), not a wait
        streamed.set()
        svc.hold_until_cancelled(ctx)

    svc.create, svc.watch = create, watch
    rc, out, term = drv_tty(svc.target, "create", "live", "--replicas", "30")
    assert (rc, out) == (0, ""), term
    assert "\rlive: 12/30 replicas ready (CREATING)" in term
    assert "\rlive: 30/30 replicas ready (READY)" in term
    # the progress line is erased before the next log line: the terminal keeps only the log lines
    assert re.search(r"replicas ready \(READY\) *\r +\r" + r'time="\S+" level=info msg="Created cluster" '
                     r"name=live replicas=30 took=", term), term
    assert svc.call("create")[2] == svc.call("watch")[2], "one connection carries both"
    assert svc.watch_ended.wait(5)


def test_terminal_delete_progress_then_in_progress_follows_the_same_watch(svc):
    pb = svc.pb

    def watch(req, ctx):
        for ready in (3, 2, 1):
            yield svc.cluster(req.name, 3, ready, pb.DELETING)
            time.sleep(0.05)    # paces the stream (one update at a time), not a wait
        yield pb.Cluster(name=req.name, replicas=3, phase=pb.DELETED)

    svc.delete = lambda req, ctx: pb.DeleteClusterResponse(result=pb.IN_PROGRESS)
    svc.watch = watch
    rc, out, term = drv_tty(svc.target, "delete", "tdel")
    assert rc == 0, term
    assert "\rtdel: 2/3 replicas ready (DELETING)" in term
    assert re.search(r'msg="Deleted cluster" name=tdel took=\S+\r\n$', term), term
    assert svc.methods().count("watch") == 1, "the progress watch went on to decide"


def test_no_terminal_no_progress_and_no_watch(svc):
    pb = svc.pb
    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.SUCCESS,
                                                           cluster=svc.cluster(req.name, 2, 2, pb.READY))
    rc, out, err = drv(svc, "create", "quiet", "--replicas", "2")
    assert rc == 0 and "replicas ready" not in err
    assert svc.methods() == ["create"]


def test_watch_command_prints_every_change_and_ends_with_the_stream(svc):
    pb = svc.pb

    def watch(req, ctx):
        yield svc.cluster(req.name, 2, 1, pb.CREATING)
        yield svc.cluster(req.name, 2, 2, pb.READY)
        yield pb.Cluster(name=req.name, replicas=2, phase=pb.DELETED)

    svc.watch = watch
    rc, out, err = drv(svc, "watch", "seen", "-o", "json")
    assert (rc, err) == (0, "")
    phases = [re.search(r'"phase":"(\w+)"', ln).group(1) for ln in out.splitlines()]
    assert phases == ["CREATING", "READY", "DELETED"]
    rc, out, err = drv(svc, "watch", "seen")
    assert rc == 0
    assert [ln.split()[4] for ln in out.splitlines()] == ["PHASE", "CREATING", "READY", "DELETED"]


# ---- every status code → 10 + code, with its name on stderr --------------------------------

CODES = [c for c in grpc.StatusCode if c != grpc.StatusCode.OK]


@pytest.mark.parametrize("code", CODES, ids=[c.name for c in CODES])
def test_status_code_maps_to_exit_status(svc, code):
    num = code.value[0]
    svc.get = lambda req, ctx: ctx.abort(code, "scripted %s" % code.name.lower())
    rc, out, err = drv(svc, "get", "x")
    assert (rc, out) == (10 + num, "")
    lines = err.splitlines()
    assert lines[0] == "cplane: get: %s: scripted %s" % (code.name, code.name.lower())
    # a refused caller is also told which token went out (or that none did)
    want_hint = code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
    assert len(lines) == (2 if want_hint else 1), err
    if want_hint:
        assert lines[1].startswith("cplane: hint: no token was sent"), err


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
                                  grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE],
                         ids=lambda c: c.name)
def test_status_code_maps_for_create_delete_list(svc, code):
    num = code.value[0]
    fail = lambda req, ctx: ctx.abort(code, "no")  # noqa: E731
    svc.create = svc.delete = svc.list = fail
    for args, what in ((["create", "a"], "create"), (["delete", "a"], "delete"), (["list"], "list"),
                       ([], "create")):
        rc, out, err = drv(svc, *args)
        assert rc == 10 + num, (args, err)
        lines = err.splitlines()
        if code == grpc.StatusCode.PERMISSION_DENIED:
            assert lines[-1].startswith("cplane: hint: "), err
            lines = lines[:-1]
        assert lines[-1] == "cplane: %s: %s: no" % (what, code.name)


BAD = b"\x0a\xff"     # field 1, length 255, then nothing: no protobuf decoder accepts it


def test_malformed_answers_are_internal(svc):
    pb = svc.pb

    def watch(req, ctx):
        yield BAD
        svc.hold_until_cancelled(ctx)

    svc.get = svc.list = svc.create = svc.delete = lambda req, ctx: BAD
    svc.watch = watch
    for args, what in ((["get", "x"], "get"), (["list"], "list"), (["create", "x"], "create"),
                       (["delete", "x"], "delete"), (["watch", "x"], "watch")):
        rc, out, err = drv(svc, *args)
        assert (rc, out) == (23, ""), (args, err)
        assert err.splitlines()[-1] == "cplane: %s: INTERNAL: malformed response message" % what
    svc.create = lambda req, ctx: pb.CreateClusterResponse(result=pb.IN_PROGRESS)
    rc, out, err = drv(svc, "create", "x")
    assert rc == 23 and err.splitlines()[-1] == "cplane: watch: INTERNAL: malformed response message"


def test_ipv6_loopback_target():
    try:
        svc = Scripted("[::1]")
    except RuntimeError:
        pytest.skip("no IPv6 loopback")
    try:
        if svc.port == 0:
            pytest.skip("no IPv6 loopback")
        svc.list = lambda req, ctx: svc.pb.ListClustersResponse(clusters=[svc.cluster("six", 1, 1, svc.pb.READY)])
        rc, out, err = drv(svc, "list", "-o", "json")
        assert rc == 0, err
        assert out.startswith('{"name":"six",')
    finally:
        svc.stop()


def test_message_with_unicode_and_percent_survives(svc):
    svc.get = lambda req, ctx: ctx.abort(grpc.StatusCode.NOT_FOUND, "cluster 'x' — 100% gone")
    rc, out, err = drv(svc, "get", "x")
    assert rc == 15
    assert err == "cplane: get: NOT_FOUND: cluster 'x' — 100% gone\n"
