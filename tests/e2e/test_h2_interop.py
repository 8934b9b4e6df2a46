"""Interop of src/h2 with independent HTTP/2 implementations from Debian.

tests/h2_responder.c (built here with ASan+UBSan) is a small peer on src/h2:
python3-h2 talks to it in both roles as a strict peer (many streams, random
window and frame sizes), nghttp and h2load as clients, and a grpcio client
completes calls to it with no HTTP/2 errors in its trace.
"""
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "e2e", "h2_responder")
SRCS = ["tests/h2_responder.c", "src/h2/frame.c", "src/h2/h2_conn.c", "src/h2/h2_recv.c",
        "src/h2/h2_send.c", "src/h2/hpack.c", "src/h2/hpack_huffman.c", "src/base/buf.c",
        "src/base/mem.c"]


@pytest.fixture(scope="module")
def responder_bin():
    os.makedirs(os.path.dirname(BIN), exist_ok=True)
    srcs = [os.path.join(ROOT, s) for s in SRCS]
    if not os.path.exists(BIN) or any(os.path.getmtime(s) > os.path.getmtime(BIN) for s in srcs):
        subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Isrc",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-o", BIN] + SRCS, cwd=ROOT, check=True)
    return BIN


class Responder:
    def __init__(self, binary, *args):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen([binary] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("port="), line + self.proc.stderr.read()
        self.port = int(line.strip().split("=")[1])

    def stop(self):
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        assert "ERROR: AddressSanitizer" not in err, err
        assert "runtime error" not in err, err
        return err


@pytest.fixture
def responder(responder_bin):
    r = Responder(responder_bin)
    yield r
    r.stop()


# ---- python3-h2 as a strict client ----------------------------------------------

class H2Client:
    def __init__(self, port, window, frame):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        cfg = h2.config.H2Configuration(client_side=True, validate_inbound_headers=True,
                                        normalize_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        # A second SETTINGS: python-h2 applies it when we acknowledge it.
        self.conn.update_settings({
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: frame,
        })
        self.flush()
        self.bodies = {}
        self.done = {}
        self.pending = {}   # stream id -> bytes still to send
        self.errors = []

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_some(self):
        for sid in list(self.pending):
            data = self.pending[sid]
            while data:
                window = self.conn.local_flow_control_window(sid)
                n = min(len(data), window, self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                self.conn.send_data(sid, data[:n], end_stream=(n == len(data)))
                data = data[n:]
            if data:
                self.pending[sid] = data
            else:
                del self.pending[sid]

    def request(self, path, body):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", "POST" if body else "GET"), (":scheme", "http"),
                (":authority", "localhost"), (":path", path)]
        self.conn.send_headers(sid, hdrs, end_stream=not body)
        self.bodies[sid] = bytearray()
        if body:
            self.pending[sid] = body
        return sid

    def pump(self):
        self.send_some()
        self.flush()
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("server closed the connection")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                self.bodies[ev.stream_id] += ev.data
                # Acknowledge in random pieces, as a slow application would.
                if random.random() < 0.8:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                else:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.done[ev.stream_id] = True
            elif isinstance(ev, h2.events.StreamReset):
                self.errors.append(("reset", ev.stream_id, ev.error_code))
                self.done[ev.stream_id] = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.errors.append(("goaway", ev.error_code, ev.additional_data))
        self.flush()


@pytest.mark.parametrize("seed,total", [(1, 400), (2, 400), (3, 400), (4, 3000)])
def test_python_h2_client_random_windows(responder, seed, total):
    rnd = random.Random(seed)
    random.seed(seed)
    window = rnd.choice([100, 1000, 16384, 65535, 1 << 20]) if total < 1000 else 1 << 20
    frame = rnd.choice([16384, 20000, 65536, 1 << 20])
    c = H2Client(responder.port, window, frame)
    sent = {}
    opened = 0
    deadline = time.time() + 60
    while len(c.done) < total and time.time() < deadline and not c.errors:
        while opened < total and opened - len(c.done) < 50:
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 100, 5000, 70000])))
            sid = c.request("/echo" if body else "/big/%d" % rnd.choice([0, 10, 40000]), body)
            sent[sid] = body
            opened += 1
        c.pump()
    assert not c.errors, c.errors
    assert len(c.done) == total
    for sid, body in sent.items():
        if body:
            assert bytes(c.bodies[sid]) == body, sid
    c.conn.close_connection()
    c.flush()
    c.sock.close()


def test_python_h2_client_ping_priority_settings(responder):
    c = H2Client(responder.port, 65535, 16384)
    c.conn.ping(b"12345678")
    c.conn.prioritize(1, weight=32, depends_on=0)   # PRIORITY on an idle stream: ignored
    c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 10})
    sid = c.request("/big/100000", b"")
    deadline = time.time() + 20
    while sid not in c.done and time.time() < deadline:
        c.pump()
    assert not c.errors
    assert len(c.bodies[sid]) == 100000


def test_python_h2_client_continuation_and_padding(responder):
    c = H2Client(responder.port, 65535, 16384)
    sid = c.conn.get_next_available_stream_id()
    # A 40 KB header value: python-h2 sends HEADERS + CONTINUATION frames.
    c.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "x"),
                              (":path", "/echo"), ("x-big", "v" * 40000)])
    c.bodies[sid] = bytearray()
    c.conn.send_data(sid, b"padded body", pad_length=200)
    c.conn.send_data(sid, b"!", end_stream=True, pad_length=1)
    deadline = time.time() + 20
    while sid not in c.done and time.time() < deadline:
        c.pump()
    assert not c.errors, c.errors
    assert bytes(c.bodies[sid]) == b"padded body!"
    # Past our 64 KiB header list limit: only that stream is refused, with 431.
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                              (":path", "/"), ("x-big", "v" * 70000)], end_stream=True)
    statuses = []
    deadline = time.time() + 20
    while sid not in c.done and time.time() < deadline:
        c.flush()
        data = c.sock.recv(65536)
        for ev in c.conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                statuses.append(dict(ev.headers)[b":status"])
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                c.done[ev.stream_id] = True
    assert statuses == [b"431"]
    sid = c.request("/", b"")
    while sid not in c.done and time.time() < deadline:
        c.pump()
    assert bytes(c.bodies[sid]) == b"hello\n"


# ---- python3-h2 as a strict server; our client mode ------------------------------

def h2_server(sock, window, frame, stop):
    cfg = h2.config.H2Configuration(client_side=False, validate_inbound_headers=True)
    conns = []

    def serve(s):
        conn = h2.connection.H2Connection(config=cfg)
        # The stream limit is in the first SETTINGS (python-h2 enforces it at once);
        # window and frame size come in a second one, applied when we acknowledge it.
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 37,
        })
        conn.initiate_connection()
        conn.update_settings({
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: frame,
        })
        s.sendall(conn.data_to_send())
        bodies, pending = {}, {}
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    bodies[ev.stream_id] = bytearray()
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    conn.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "x/y")])
                    pending[ev.stream_id] = bytes(bodies.pop(ev.stream_id)) + b"!"
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    s.sendall(conn.data_to_send())
                    return
            for sid in list(pending):
                data = pending[sid]
                while data:
                    n = min(len(data), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                    if n <= 0:
                        break
                    conn.send_data(sid, data[:n])
                    data = data[n:]
                if data:
                    pending[sid] = data
                else:
                    conn.end_stream(sid)
                    del pending[sid]
            s.sendall(conn.data_to_send())

    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            s, _ = sock.accept()
        except socket.timeout:
            continue
        t = threading.Thread(target=serve, args=(s,), daemon=True)
        t.start()
        conns.append(t)


@pytest.mark.parametrize("window,frame,body", [(65535, 16384, 1000), (100, 16384, 5000), (1 << 20, 65536, 200000)])
def test_python_h2_server_our_client(responder_bin, window, frame, body):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    stop = threading.Event()
    t = threading.Thread(target=h2_server, args=(lsock, window, frame, stop), daemon=True)
    t.start()
    try:
        out = subprocess.run([responder_bin, "--connect", str(lsock.getsockname()[1]), "-n", "300",
                              "-c", "100", "--path", "/x", "--body", str(body)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok streams=300 bytes=%d" % (300 * (body + 1)) in out.stdout, out.stdout
    finally:
        stop.set()
        t.join()          # its accept() must not see the socket closed under it
        lsock.close()


# ---- nghttp, h2load ---------------------------------------------------------------

def test_nghttp_client(responder):
    url = "http://127.0.0.1:%d" % responder.port
    out = subprocess.run(["nghttp", "-nv", url + "/", url + "/big/300000", url + "/big/1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PROTOCOL_ERROR" not in out.stdout and "GOAWAY" not in out.stdout.split("send GOAWAY")[0]
    # Small windows (2^10) and a POST body uploaded through our flow control.
    body = os.path.join(ROOT, "build", "e2e", "nghttp-body")
    with open(body, "w") as f:
        f.write("z" * 100000)
    out = subprocess.run(["nghttp", "-w", "10", "-W", "12", "-d", body, url + "/echo"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "z" * 100000


def test_h2load_smoke(responder):
    out = subprocess.run(["h2load", "-n", "20000", "-c", "10", "-m", "20",
                          "http://127.0.0.1:%d/" % responder.port],
                         capture_output=True, text=True, timeout=60)
    assert "20000 succeeded, 0 failed, 0 errored" in out.stdout, out.stdout


# ---- grpcio ------------------------------------------------------------------------

GRPC_CLIENT = r"""
import grpc, sys
ch = grpc.insecure_channel("127.0.0.1:%s" % sys.argv[1])
call = ch.unary_unary("/test.Echo/Echo", request_serializer=None, response_deserializer=None)
for i in range(50):
    msg = bytes([i % 256]) * (i * 1000)
    assert call(msg, timeout=10) == msg
stream = ch.stream_stream("/test.Echo/Stream", request_serializer=None, response_deserializer=None)
print("grpc ok")
"""


def test_grpcio_client_no_protocol_errors(responder):
    env = dict(os.environ, GRPC_TRACE="http", GRPC_VERBOSITY="debug")
    out = subprocess.run(["/usr/bin/python3", "-c", GRPC_CLIENT, str(responder.port)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr[-4000:]
    assert "grpc ok" in out.stdout
    bad = [l for l in out.stderr.splitlines()
           if any(w in l for w in ("PROTOCOL_ERROR", "FLOW_CONTROL_ERROR", "COMPRESSION_ERROR",
                                   "FRAME_SIZE_ERROR", "Protocol error", "goaway", "GOAWAY"))]
    assert not bad, "\n".join(bad[:20])


GRPC_SERVER = r'''
import grpc, sys
from concurrent import futures
def echo(req, ctx):
    return req
h = grpc.method_handlers_generic_handler("test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
s = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
s.add_generic_rpc_handlers((h,))
port = s.add_insecure_port("127.0.0.1:0")
s.start()
print(port, flush=True)
s.wait_for_termination(timeout=120)
'''


@pytest.mark.parametrize("body", [5, 1000, 300000])
def test_grpcio_server_our_client(responder_bin, body, tmp_path):
    env = dict(os.environ, GRPC_TRACE="http", GRPC_VERBOSITY="debug")
    # The trace goes to a file: a pipe nobody drains would stall the server.
    errf = open(tmp_path / "grpc-server.log", "w+")
    srv = subprocess.Popen(["/usr/bin/python3", "-c", GRPC_SERVER], stdout=subprocess.PIPE,
                           stderr=errf, text=True, env=env)
    try:
        port = srv.stdout.readline().strip()
        out = subprocess.run([responder_bin, "--connect", port, "-n", "200", "-c", "20", "--grpc",
                              "--path", "/test.Echo/Echo", "--body", str(body)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok streams=200 bytes=%d" % (200 * body) in out.stdout
    finally:
        srv.kill()
        srv.communicate()
    errf.seek(0)
    err = errf.read()
    errf.close()
    bad = [l for l in err.splitlines() if any(w in l for w in ("PROTOCOL_ERROR", "FLOW_CONTROL_ERROR",
                                                                "COMPRESSION_ERROR", "FRAME_SIZE_ERROR"))]
    assert not bad, "\n".join(bad[:20])


def test_graceful_shutdown(responder_bin):
    r = Responder(responder_bin)
    c = H2Client(r.port, 65535, 16384)
    sid = c.request("/big/10", b"")
    while sid not in c.done:
        c.pump()
    r.proc.send_signal(15)
    # The server announces GOAWAY, then closes once idle.
    deadline = time.time() + 10
    closed = False
    while time.time() < deadline:
        try:
            data = c.sock.recv(65536)
        except OSError:
            closed = True
            break
        if not data:
            closed = True
            break
        try:
            c.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            # python-h2 rejects the PING that follows the first GOAWAY (grpc-go and
            # nghttp2 answer it); we still answer it by hand so the drain is quick.
            c.sock.sendall(b"\x00\x00\x08\x06\x01\x00\x00\x00\x00cplgoawy")
            continue
        c.flush()
    assert closed
    assert r.proc.wait(timeout=10) == 0
