"""gRPC interop: python3-grpcio against cplane's gRPC server (tests/grpc_test_server.c),
cplane's gRPC client (tests/grpc_test_client.c) against a python3-grpcio server, and raw
HTTP/2 requests (python3-h2) for what grpcio will not send (each grpc-timeout unit,
malformed requests, plain HTTP)."""
import concurrent.futures
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("CPLANE_GRPC_TEST_BIN", os.path.join(ROOT, "build", "test"))
SERVER = os.path.join(BIN_DIR, "grpc_test_server")
CLIENT = os.path.join(BIN_DIR, "grpc_test_client")
MIB = 1024 * 1024
IDENT = dict(request_serializer=None, response_deserializer=None)


def _build():
    if "CPLANE_GRPC_TEST_BIN" in os.environ:
        return
    r = subprocess.run(["make", "-s", "build/test/grpc_test_server", "build/test/grpc_test_client"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail("building the gRPC test programs failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])


class Server:
    def __init__(self, *args):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
        self.p = subprocess.Popen([SERVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
        line = self.p.stdout.readline()
        assert line.startswith("port="), line + self.p.stderr.read()
        self.port = int(line.strip().split("=")[1])
        self.addr = "127.0.0.1:%d" % self.port

    def stop(self, timeout=15, signal_it=True):
        if signal_it and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        return self.p.returncode, out, err


@pytest.fixture(scope="module")
def server():
    _build()
    s = Server()
    yield s
    rc, out, err = s.stop()
    assert rc == 0, err[-4000:]
    assert "shutdown done" in out
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err[-4000:]


@pytest.fixture(scope="module")
def channel(server):
    ch = grpc.insecure_channel(server.addr)
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def pb2():
    """Python message classes generated at test time with protoc (no grpc_tools here)."""
    out = tempfile.mkdtemp(prefix="cplane-pb2-")
    subprocess.run(["protoc", "--proto_path=" + os.path.join(ROOT, "proto"), "--python_out=" + out,
                    "cplane/v1/cplane.proto", "grpc/health/v1/health.proto"], check=True)
    mods = []
    for name, rel in (("cplane_pb2", "cplane/v1/cplane_pb2.py"), ("health_pb2", "grpc/health/v1/health_pb2.py")):
        # loaded by path: "grpc.health" would collide with the grpc package
        spec = importlib.util.spec_from_file_location(name, os.path.join(out, rel))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return tuple(mods)


def unary(ch, path):
    return ch.unary_unary(path)


def stats(ch):
    raw = unary(ch, "/test.Test/Stats")(b"", timeout=10).decode()
    st = {k: int(v) for k, v in (kv.split("=") for kv in raw.split())}
    st["calls_active"] -= 1  # the Stats call itself
    return st


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)    # polls inside wait_for's bounded loop
    return pred()


# ---- raw HTTP/2 --------------------------------------------------------------------

def frame(msg, flag=0):
    return struct.pack(">BI", flag, len(msg)) + msg


def raw_request(port, path, extra=(), body=frame(b"x"), method="POST", content_type="application/grpc",
                te="trailers", timeout=10, bodies=None):
    """One request on a fresh HTTP/2 connection; returns (headers, data, trailers)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True,
                                                                       header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    hdrs = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "test")]
    if content_type:
        hdrs.append(("content-type", content_type))
    if te:
        hdrs.append(("te", te))
    hdrs.extend(extra)
    if bodies is None:
        bodies = [body] if body else []
    conn.send_headers(sid, hdrs, end_stream=not bodies)
    for i, b in enumerate(bodies):
        conn.send_data(sid, b, end_stream=i == len(bodies) - 1)
    sock.sendall(conn.data_to_send())
    headers, trailers, data, done = {}, {}, b"", False
    try:
        while not done:
            chunk = sock.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    headers = dict(ev.headers)
                elif isinstance(ev, h2.events.TrailersReceived):
                    trailers = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return headers, data, trailers


def grpc_status_of(headers, trailers):
    st = trailers.get("grpc-status", headers.get("grpc-status"))
    return int(st) if st is not None else None


# ---- server side: grpcio clients against the C server ------------------------------------

def test_unary_echo_and_metadata_round_trip(channel):
    md = [("x-a", "1"), ("x-long", "v" * 1000), ("x-b-bin", b"\x00\x01\xff")]
    resp, call = unary(channel, "/test.Test/Echo").with_call(b"hello", metadata=md, timeout=10)
    assert resp == b"hello"
    init = dict(call.initial_metadata())
    trail = dict(call.trailing_metadata())
    assert init["x-a"] == "1" and init["x-long"] == "v" * 1000
    assert init["x-b-bin"] == b"\x00\x01\xff"
    assert trail["x-a-t"] == "1"
    assert unary(channel, "/test.Test/Echo")(b"", timeout=10) == b""


def test_get_cluster_protobuf(channel, pb2):
    cplane_pb2, _ = pb2
    get = channel.unary_unary("/cplane.v1.ClusterService/GetCluster",
                              request_serializer=cplane_pb2.GetClusterRequest.SerializeToString,
                              response_deserializer=cplane_pb2.Cluster.FromString)
    c = get(cplane_pb2.GetClusterRequest(name="demo"), timeout=10)
    assert c.name == "demo" and c.replicas == 3 and c.phase == cplane_pb2.READY


@pytest.mark.parametrize("code", range(1, 17))
def test_every_status_code_with_percent_encoded_message(channel, code):
    msg = "failed: 100%% sure, caf\u00e9 \u20ac\nline2 code %d" % code
    with pytest.raises(grpc.RpcError) as ei:
        unary(channel, "/test.Test/Status")(("%d %s" % (code, msg)).encode(), timeout=10)
    assert ei.value.code().value[0] == code
    assert ei.value.details() == msg


def test_status_ok_without_message(channel):
    # OK without a response message: grpcio's unary call hands back None
    resp, call = unary(channel, "/test.Test/Status").with_call(b"0", timeout=10)
    assert resp is None and call.code() == grpc.StatusCode.OK and call.details() == ""


def test_unknown_service_and_method(channel):
    for path, words in (("/no.Such/Thing", "unknown service no.Such"),
                        ("/test.Test/Nope", "unknown method Nope for service test.Test")):
        with pytest.raises(grpc.RpcError) as ei:
            unary(channel, path)(b"x", timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert words in ei.value.details()


def test_deadline_from_grpcio_runs_the_cancel_hook(channel):
    before = stats(channel)
    with pytest.raises(grpc.RpcError) as ei:
        unary(channel, "/test.Test/Sleep")(b"5000", timeout=0.3)
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert wait_for(lambda: stats(channel)["hooks_deadline"] + stats(channel)["hooks_cancelled"] >
                    before["hooks_deadline"] + before["hooks_cancelled"])


def test_cancel_mid_call_runs_the_cancel_hook(channel):
    before = stats(channel)["hooks_cancelled"]
    fut = unary(channel, "/test.Test/Hang").future(b"x")
    assert wait_for(lambda: stats(channel)["calls_active"] >= 1)     # the handler runs: its hook is set
    fut.cancel()
    assert wait_for(lambda: stats(channel)["hooks_cancelled"] == before + 1)
    assert wait_for(lambda: stats(channel)["calls_active"] == 0)


@pytest.mark.parametrize("value,lo,hi", [
    ("1H", 3590_000, 3600_000), ("2M", 110_000, 120_000), ("30S", 29_000, 30_000),
    ("25000m", 24_000, 25_000), ("20000000u", 19_000, 20_000), ("15000000000n", None, None),
    ("90000000n", 1, 90), ("99999999H", 10 ** 11, None),
])
def test_each_grpc_timeout_unit(server, value, lo, hi):
    if value == "15000000000n":  # 11 digits: malformed (8 at most)
        h, _, t = raw_request(server.port, "/test.Test/Deadline", [("grpc-timeout", value)])
        assert grpc_status_of(h, t) == 13
        return
    h, data, t = raw_request(server.port, "/test.Test/Deadline", [("grpc-timeout", value)])
    assert grpc_status_of(h, t) == 0, (h, t)
    left = int(data[5:])
    assert left >= lo and (hi is None or left <= hi), left


@pytest.mark.parametrize("value", ["200m", "200000u", "20000000n", "1S"])
def test_short_timeouts_expire(server, value):
    h, _, t = raw_request(server.port, "/test.Test/Sleep", [("grpc-timeout", value)], body=frame(b"5000"))
    assert grpc_status_of(h, t) == 4


def test_no_timeout_means_no_deadline(server):
    h, data, t = raw_request(server.port, "/test.Test/Deadline")
    assert grpc_status_of(h, t) == 0 and data[5:] == b"-1"


def test_plain_http_get_root_and_415(server):
    h, data, _ = raw_request(server.port, "/", method="GET", content_type=None, te=None, body=b"")
    assert h[":status"] == "200" and h["content-type"].startswith("text/plain")
    assert data.decode().startswith("cplane ") and "cplane.v1.ClusterService" in data.decode()
    assert data.count(b"\n") == 1
    h, _, _ = raw_request(server.port, "/x", method="GET", content_type=None, te=None, body=b"")
    assert h[":status"] == "415"
    h, _, _ = raw_request(server.port, "/test.Test/Echo", content_type="application/json")
    assert h[":status"] == "415"
    h, _, _ = raw_request(server.port, "/test.Test/Echo", content_type="application/grpc+json")
    assert h[":status"] == "415"
    h, data, t = raw_request(server.port, "/test.Test/Echo", content_type="application/grpc+proto")
    assert grpc_status_of(h, t) == 0 and data == frame(b"x")


def test_malformed_grpc_requests(server):
    p = server.port
    h, _, t = raw_request(p, "/test.Test/Echo", te=None)
    assert grpc_status_of(h, t) == 13
    h, _, t = raw_request(p, "/test.Test/Echo", [("grpc-encoding", "gzip")])
    assert grpc_status_of(h, t) == 12 and h.get("grpc-accept-encoding") == "identity"
    h, _, t = raw_request(p, "/test.Test/Echo", [("grpc-encoding", "identity")])
    assert grpc_status_of(h, t) == 0
    h, _, t = raw_request(p, "/test.Test/Echo", body=frame(b"x", flag=1))
    assert grpc_status_of(h, t) == 12 and h.get("grpc-accept-encoding") == "identity"
    h, _, t = raw_request(p, "/test.Test/Echo", bodies=[frame(b"a"), frame(b"b")])
    assert grpc_status_of(h, t) == 13
    h, _, t = raw_request(p, "/test.Test/Echo", body=b"")
    assert grpc_status_of(h, t) == 13
    h, _, t = raw_request(p, "/test.Test/Echo", body=frame(b"abc")[:6])
    assert grpc_status_of(h, t) == 13
    # a message split over many DATA frames is reassembled
    whole = frame(b"0123456789" * 100)
    h, data, t = raw_request(p, "/test.Test/Echo", bodies=[whole[i:i + 7] for i in range(0, len(whole), 7)])
    assert grpc_status_of(h, t) == 0 and data == whole
    # Trailers-Only: errors come in the one HEADERS block
    h, data, t = raw_request(p, "/test.Test/Status", body=frame(b"7 no"))
    assert h.get("grpc-status") == "7" and h.get("grpc-message") == "no" and not t and data == b""


def test_message_size_limits(channel):
    echo = unary(channel, "/test.Test/Echo")
    just_under = b"u" * (4 * MIB)
    assert echo(just_under, timeout=30) == just_under
    with pytest.raises(grpc.RpcError) as ei:
        echo(b"o" * (4 * MIB + 1), timeout=30)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # the server sends more than 4 MiB; grpcio's own limit refuses it
    big = channel.unary_unary("/test.Test/Big")
    assert len(big(b"%d" % (4 * MIB - 1), timeout=30)) == 4 * MIB - 1
    with pytest.raises(grpc.RpcError) as ei:
        big(b"%d" % (4 * MIB + 1), timeout=30)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_big_response_with_raised_client_limit(server):
    with grpc.insecure_channel(server.addr, options=[("grpc.max_receive_message_length", 8 * MIB)]) as ch:
        assert len(ch.unary_unary("/test.Test/Big")(b"%d" % (6 * MIB), timeout=30)) == 6 * MIB


def test_stream_10k_messages_to_a_slow_reader(channel):
    before = stats(channel)
    it = channel.unary_stream("/test.Test/Stream")(b"10000 1024", timeout=120)
    # nothing read: the handler fills the stream's queue to its cap and holds back, not buffering 10 MB
    assert wait_for(lambda: stats(channel)["queue_peak"] >= 64 * 1024)
    mid = stats(channel)
    n = 0
    for m in it:
        assert len(m) == 1024
        n += 1
        if n % 2000 == 0:
            time.sleep(0.2)     # a slow reader (the load, not a wait)
    assert n == 10000
    after = stats(channel)
    assert after["streams_done"] == before["streams_done"] + 1
    # the handler's view of the stream queue stays near its cap (64 KiB + one message)
    assert after["queue_peak"] <= 64 * 1024 + 1024 + 5
    # memory while the reader stalled grew by far less than the 10 MB stream
    assert mid["rss_kib"] - before["rss_kib"] < 6 * 1024, (before, mid)


def test_1000_concurrent_calls_on_one_connection(server, channel):
    echo = unary(channel, "/test.Test/Sleep")
    futs = [echo.future(b"3000", timeout=90) for _ in range(1000)]
    # Ask on a connection of its own: on `channel` the question would queue behind the
    # 1,000 open streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS) until they end.
    side = grpc.insecure_channel(server.addr, options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        assert wait_for(lambda: stats(side)["calls_active"] >= 900, timeout=30)
        assert all(f.result() == b"slept" for f in futs)
        assert stats(side)["conns_open"] >= 2
    finally:
        side.close()


def test_100_connections(server):
    chans = [grpc.insecure_channel(server.addr, options=[("grpc.use_local_subchannel_pool", 1)])
             for _ in range(100)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
            res = list(ex.map(lambda ch: [ch.unary_unary("/test.Test/Echo")(b"c%d" % i, timeout=30)
                                          for i in range(10)], chans))
        assert all(r == [b"c%d" % i for i in range(10)] for r in res)
        with grpc.insecure_channel(server.addr) as ch:
            assert stats(ch)["conns_open"] >= 100
    finally:
        for ch in chans:
            ch.close()


def test_health_check_and_watch(channel, pb2):
    _, health_pb2 = pb2
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                response_deserializer=health_pb2.HealthCheckResponse.FromString)
    watch = channel.unary_stream("/grpc.health.v1.Health/Watch",
                                 request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                 response_deserializer=health_pb2.HealthCheckResponse.FromString)
    R = health_pb2.HealthCheckResponse
    assert check(health_pb2.HealthCheckRequest(service=""), timeout=10).status == R.SERVING
    with pytest.raises(grpc.RpcError) as ei:
        check(health_pb2.HealthCheckRequest(service="nope.Svc"), timeout=10)
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
    it = watch(health_pb2.HealthCheckRequest(service="cplane.v1.ClusterService"), timeout=30)
    assert next(it).status == R.SERVICE_UNKNOWN
    unary(channel, "/test.Test/SetHealth")(b"cplane.v1.ClusterService 1", timeout=10)
    assert next(it).status == R.SERVING
    assert check(health_pb2.HealthCheckRequest(service="cplane.v1.ClusterService"),
                 timeout=10).status == R.SERVING
    unary(channel, "/test.Test/SetHealth")(b"cplane.v1.ClusterService 2", timeout=10)
    assert next(it).status == R.NOT_SERVING
    it.cancel()


def test_graceful_shutdown(pb2):
    _build()
    _, health_pb2 = pb2
    s = Server("--grace-ms", "1500")
    ch = grpc.insecure_channel(s.addr)
    try:
        sleeper = unary(ch, "/test.Test/Sleep").future(b"500", timeout=30)
        hanger = unary(ch, "/test.Test/Hang").future(b"x", timeout=30)
        watch = ch.unary_stream("/grpc.health.v1.Health/Watch",
                                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                response_deserializer=health_pb2.HealthCheckResponse.FromString)
        it = watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert next(it).status == health_pb2.HealthCheckResponse.SERVING
        assert wait_for(lambda: stats(ch)["calls_active"] >= 3)
        t0 = time.time()
        s.p.send_signal(signal.SIGTERM)
        assert next(it).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert sleeper.result() == b"slept"  # finished within the grace
        with pytest.raises(grpc.RpcError) as ei:
            hanger.result()
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.time() - t0 >= 1.0
        rc, out, err = s.stop(timeout=15, signal_it=False)
        assert rc == 0 and "shutdown done" in out, err[-4000:]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
    finally:
        ch.close()
        s.stop()


def read_until_settings_ack(x):
    """Reads frames from x until the server's SETTINGS ACK: it has handled our preface by then."""
    buf = b""
    while True:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            chunk = x.recv(4096)
            assert chunk, "closed before the SETTINGS ACK"
            buf += chunk
        n, typ, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
        buf = buf[9 + n:]
        if typ == 4 and flags & 1:
            return


def test_connection_limit():
    _build()
    s = Server("--max-conns", "2")
    try:
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(2)]
        for x in socks:     # both served, one after the other: each has its SETTINGS acknowledged
            x.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            read_until_settings_ack(x)
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        extra.settimeout(5)
        # issue 18: the newcomer is served (our SETTINGS) and the connection idle the longest goes
        assert extra.recv(9)[3] == 4
        socks[0].settimeout(5)     # the oldest idle one is closed: EOF or RST, not a timeout
        try:
            while socks[0].recv(100):
                pass
        except ConnectionResetError:
            pass
        socks[1].setblocking(False)     # the younger one stays open: frames or nothing yet, never EOF
        try:
            assert socks[1].recv(100) != b""
        except BlockingIOError:
            pass
        for x in socks + [extra]:
            x.close()
        with grpc.insecure_channel(s.addr) as ch:
            # the closed ones are noticed and free their slots
            assert unary(ch, "/test.Test/Echo")(b"ok", timeout=10, wait_for_ready=True) == b"ok"
    finally:
        rc, _, err = s.stop()
        assert rc == 0, err[-3000:]


# ---- client side: the C client against a grpcio server -------------------------------------

class PyService(grpc.GenericRpcHandler):
    def service(self, details):
        m = details.method
        if m == "/py.Test/Echo":
            def echo(req, ctx):
                md = dict(ctx.invocation_metadata())
                ctx.set_trailing_metadata([(k + "-t", v) for k, v in md.items() if k.startswith("x-")])
                return req
            return grpc.unary_unary_rpc_method_handler(echo)
        if m == "/py.Test/Fail":
            def fail(req, ctx):
                code, _, msg = req.decode().partition(" ")
                ctx.abort(next(c for c in grpc.StatusCode if c.value[0] == int(code)), msg)
            return grpc.unary_unary_rpc_method_handler(fail)
        if m == "/py.Test/Sleep":
            def sleep(req, ctx):
                end = time.time() + int(req) / 1000.0
                while time.time() < end and ctx.is_active():
                    time.sleep(0.01)    # the test service's Sleep method (the load), polling for cancellation
                return b"slept"
            return grpc.unary_unary_rpc_method_handler(sleep)
        if m == "/py.Test/Stream":
            def stream(req, ctx):
                n, size = (int(x) for x in req.split())
                for i in range(n):
                    yield bytes([97 + i % 26]) * size
            return grpc.unary_stream_rpc_method_handler(stream)
        if m == "/py.Test/Empty":
            return grpc.unary_unary_rpc_method_handler(lambda req, ctx: b"")
        return None


@pytest.fixture(scope="module")
def pyserver():
    _build()
    srv = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=64),
                      handlers=[PyService()], maximum_concurrent_rpcs=None)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield "127.0.0.1:%d" % port
    srv.stop(0)


def client(*args, timeout=60):
    r = subprocess.run([CLIENT, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    assert lines, r.stderr
    out = {}
    for tok in lines[-1].split(" "):
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    out["_line"] = lines[-1]
    return out


def test_c_client_unary_and_metadata(pyserver):
    r = client(pyserver, "unary", "/py.Test/Echo", "hello", "5000", "x-k=v1")
    assert r["status"] == "0" and r["reply_hex"] == b"hello".hex() and r["msgs"] == "1"
    assert r["md_x-k-t"] == "v1"  # the python server echoes request metadata as trailers


def test_c_client_empty_reply(pyserver):
    r = client(pyserver, "unary", "/py.Test/Empty", "x")
    assert r["status"] == "0" and r["msgs"] == "1" and r["bytes"] == "0"


def test_c_client_streaming(pyserver):
    r = client(pyserver, "stream", "/py.Test/Stream", "5000 100", "30000")
    assert r["status"] == "0" and r["msgs"] == "5000" and r["bytes"] == str(5000 * 100)


def test_c_client_deadline(pyserver):
    t0 = time.time()
    r = client(pyserver, "unary", "/py.Test/Sleep", "3000", "300")
    assert r["status"] == "4"
    assert time.time() - t0 < 2.5


@pytest.mark.parametrize("code", [3, 5, 9, 13, 14, 16])
def test_c_client_error_status_and_message(pyserver, code):
    r = client(pyserver, "unary", "/py.Test/Fail", "%d bad thing: 50%% \u00e9" % code)
    assert r["status"] == str(code)
    assert 'message="bad thing: 50% \u00e9"' in r["_line"]


def test_c_client_unimplemented(pyserver):
    r = client(pyserver, "unary", "/py.Test/Missing", "x")
    assert r["status"] == "12"


def test_c_client_many_concurrent(pyserver):
    r = client(pyserver, "many", "500", "/py.Test/Echo", "m")
    assert r["ok"] == "500" and r["fail"] == "0" and r["connects"] == "1"


def test_c_client_cancel(pyserver):
    r = client(pyserver, "cancel", "/py.Test/Sleep", "5000", "200")
    assert r["status"] == "1"


def test_c_client_connect_refused():
    _build()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = client("127.0.0.1:%d" % port, "unary", "/a/b", "x", "2000")
    assert r["status"] == "14"


def test_c_client_against_c_server(server):
    r = client(server.addr, "many", "1000", "/test.Test/Echo", "x")
    assert r["ok"] == "1000" and r["connects"] == "1"
    r = client(server.addr, "stream", "/test.Test/Stream", "10000 10", "60000")
    assert r["status"] == "0" and r["msgs"] == "10000"
    r = client(server.addr, "unary", "/test.Test/Sleep", "5000", "200")
    assert r["status"] == "4"
    # more than the 16 MiB connection window: the client returns what it reads to the windows
    r = client(server.addr, "stream", "/test.Test/Stream", "2000 10000", "60000")
    assert r["status"] == "0" and r["msgs"] == "2000" and r["bytes"] == str(2000 * 10000)


def test_many_large_requests_on_one_connection(server):
    """20 x 3 MiB requests on one connection (60 MiB > the 16 MiB connection window): flow
    control returns the bytes of each completed message."""
    with grpc.insecure_channel(server.addr) as ch:
        echo = unary(ch, "/test.Test/Echo")
        futs = [echo.future(bytes([65 + i]) * (3 * MIB), timeout=120) for i in range(20)]
        assert [len(f.result()) for f in futs] == [3 * MIB] * 20


def _refusing_h2_server(sock, log):
    """A raw HTTP/2 server: refuses the first stream of each connection (REFUSED_STREAM), then
    answers gRPC requests by echoing their message."""
    def serve(conn_sock):
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False,
                                                                           header_encoding="utf-8"))
        conn.initiate_connection()
        conn_sock.sendall(conn.data_to_send())
        bodies, first = {}, True
        while True:
            try:
                data = conn_sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    log.append(("request", ev.stream_id))
                    if first:
                        first = False
                        conn.reset_stream(ev.stream_id, error_code=7)  # REFUSED_STREAM
                        log.append(("refused", ev.stream_id))
                    else:
                        bodies[ev.stream_id] = b""
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if ev.stream_id in bodies:
                        bodies[ev.stream_id] += ev.data
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in bodies:
                    sid = ev.stream_id
                    conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
                    conn.send_data(sid, bodies.pop(sid))
                    conn.send_headers(sid, [("grpc-status", "0")], end_stream=True)
            conn_sock.sendall(conn.data_to_send())

    while True:
        try:
            c, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def test_c_client_retries_a_refused_stream():
    _build()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    log = []
    threading.Thread(target=_refusing_h2_server, args=(lsock, log), daemon=True).start()
    try:
        r = client("127.0.0.1:%d" % lsock.getsockname()[1], "unary", "/any/Method", "again", "5000")
    finally:
        lsock.shutdown(socket.SHUT_RDWR)      # wakes the server's accept(), which then returns
        lsock.close()
    assert r["status"] == "0" and r["reply_hex"] == b"again".hex(), r
    assert [e[0] for e in log][:3] == ["request", "refused", "request"]
