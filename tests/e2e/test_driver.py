"""The driver (`cplane --driver ...`) end to end against the real worker and kubesim:
every command with golden output in table and JSON modes (AGE, timestamps and
durations normalised, nothing else), the demo's four lines, bad usage, each
error class's exit status, CPLANE_TARGET and the start-up retry."""
import os
import re
import select
import subprocess
import time

import pytest

from cplane_fixture import BIN, POOL, Client, free_port, pb2, phase_of, start_worker, wait_until
from kubesim_fixture import start_kubesim

# The driver's token: kubesim knows it (--client-token) for cplane-driver, every verb granted; the
# worker checks it on every call.  The driver reads it from $CPLANE_TOKEN here.
DRIVER_TOKEN = "driver-e2e-token-0123456789abcdef"
TOKEN_ENV = {"CPLANE_TOKEN": DRIVER_TOKEN}

AGE_RE = re.compile(r"(?:\d+[smhdy])+$|<unknown>$")


def drv(*args, target=None, env=None, timeout=60):
    """Runs the driver; returns (exit status, stdout, stderr)."""
    e = {} if env is None else dict(env)
    e.setdefault("CPLANE_TOKEN", DRIVER_TOKEN)
    if target is not None:
        e["CPLANE_TARGET"] = target
    p = subprocess.run([BIN, "--driver"] + list(args), env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def drv_until(text, then, *args, target=None, timeout=60):
    """Runs the driver until its stderr shows text, calls then(), and lets it finish; returns
    (exit status, stdout, stderr).  Fails after timeout seconds."""
    p = subprocess.Popen([BIN, "--driver"] + list(args), env={"CPLANE_TOKEN": DRIVER_TOKEN, "CPLANE_TARGET": target},
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        err, end = b"", time.monotonic() + timeout
        while text.encode() not in err:
            left = end - time.monotonic()
            assert left > 0, "no %r from the driver: %s" % (text, err.decode())
            if select.select([p.stderr], [], [], min(left, 0.2))[0]:    # polls inside a bounded wait
                chunk = os.read(p.stderr.fileno(), 65536)
                assert chunk, "the driver ended before %r: %s" % (text, err.decode())
                err += chunk
        then()
        out, rest = p.communicate(timeout=timeout)
        return p.returncode, out.decode(), (err + rest).decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def norm_log(s):
    """Log lines: the timestamp and took= durations vary; everything else is compared."""
    for t in re.findall(r'time="([^"]*)"', s):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t), t
    for d in re.findall(r"took=(\S+)", s):
        assert re.fullmatch(r"\d[\dhms.u]*s", d), d
    s = re.sub(r'time="[^"]*"', 'time="<ts>"', s)
    return re.sub(r"took=\S+", "took=<dur>", s)


def norm_table(s):
    """A table: the header, then rows whose last column (AGE) is replaced by <age>."""
    lines = s.split("\n")
    assert lines[-1] == "", "the table ends with a newline"
    assert re.fullmatch(r"NAME +REPLICAS +READY +UPDATED +PHASE +AGE", lines[0]), lines[0]
    out = [lines[0]]
    for ln in lines[1:-1]:
        assert AGE_RE.search(ln), "no AGE at the end of %r" % ln
        out.append(AGE_RE.sub("<age>", ln))
    return "\n".join(out) + "\n"


def norm_json(s):
    """JSON lines: createdUnixMs (a wall-clock timestamp) becomes <ts> once checked plausible."""
    now = time.time() * 1000
    for ms in re.findall(r'"createdUnixMs":"(\d+)"', s):
        assert ms == "0" or now - 86400e3 < int(ms) < now + 60e3, ms
    return re.sub(r'"createdUnixMs":"\d+"', '"createdUnixMs":"<ts>"', s)


def cjson(name, replicas, ready, phase, message, image="registry.k8s.io/pause:3.9", ts="<ts>", updated=None):
    if updated is None:
        updated = replicas if phase == "READY" else 0
    return ('{"name":"%s","replicas":%d,"readyReplicas":%d,"phase":"%s","message":"%s","image":"%s",'
            '"createdUnixMs":"%s","updatedReplicas":%d}\n' % (name, replicas, ready, phase, message, image, ts,
                                                              updated))


def log(msg, **kv):
    q = '"%s"' % msg if " " in msg else msg
    return 'time="<ts>" level=info msg=%s%s\n' % (q, "".join(" %s=%s" % (k, v) for k, v in kv.items()))


class Env:
    def __init__(self, tmp, *worker_args, node_selector=POOL, pace="20"):
        self.sim = start_kubesim(tmp / "sim", "--ready-pace-ms", pace, "--node", POOL,
                                 "--client-token", DRIVER_TOKEN)
        try:
            self.w = start_worker(self.sim, tmp, "--max-replicas", "50", *worker_args, node_selector=node_selector)
        except Exception:
            self.sim.stop()
            raise
        self.target = self.w.target

    def run(self, *args, **kw):
        kw.setdefault("target", self.target)
        return drv(*args, **kw)

    def stop(self):
        self.w.stop()
        self.sim.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("driver"))
    yield e
    e.stop()


@pytest.fixture
def fresh(tmp_path):
    """A worker of its own: nothing else's clusters in its list."""
    e = Env(tmp_path)
    yield e
    e.stop()


def get_pb(env, name):
    c = Client(env.target)
    try:
        return c.get(name)
    finally:
        c.close()


# ---- create -------------------------------------------------------------------------------


def test_create_waits_until_ready(env):
    rc, out, err = env.run("create", "c-wait", "--replicas", "3")
    assert (rc, out) == (0, "")
    assert norm_log(err) == (log("Creating cluster", name="c-wait", replicas=3) +
                             log("Created cluster", name="c-wait", replicas=3, took="<dur>"))
    c = get_pb(env, "c-wait")
    assert c.phase == pb2().READY and c.ready_replicas == 3


def test_create_default_one_replica_json(env):
    rc, out, err = env.run("create", "c-json", "-o", "json")
    assert rc == 0, err
    assert norm_json(out) == cjson("c-json", 1, 1, "READY", "1/1 replicas available")
    assert norm_log(err) == (log("Creating cluster", name="c-json", replicas=1) +
                             log("Created cluster", name="c-json", replicas=1, took="<dur>"))


def test_create_image(env):
    rc, out, err = env.run("create", "c-image", "--image", "nginx:1.25", "--replicas", "2", "--output", "json")
    assert rc == 0, err
    assert norm_json(out) == cjson("c-image", 2, 2, "READY", "2/2 replicas available", image="nginx:1.25")
    assert get_pb(env, "c-image").image == "nginx:1.25"


def test_create_wait_flag_is_the_default(env):
    rc, out, err = env.run("create", "c-waitflag", "--wait", "--replicas", "2")
    assert (rc, out) == (0, ""), err
    assert 'msg="Created cluster" name=c-waitflag replicas=2' in err


def test_create_no_wait_returns_while_creating(env):
    rc, out, err = env.run("create", "c-nowait", "--replicas", "40", "--no-wait")
    assert (rc, out) == (0, ""), err
    assert norm_log(err) == (log("Creating cluster", name="c-nowait", replicas=40) +
                             log("Cluster accepted", name="c-nowait", phase="CREATING"))
    # the worker carries on without the driver
    wait_until(lambda: get_pb(env, "c-nowait").phase == pb2().READY, 20, "c-nowait READY")


def test_create_no_wait_still_reports_errors(env):
    env.run("create", "c-nowait-x", "--replicas", "2")
    rc, out, err = env.run("create", "c-nowait-x", "--replicas", "3", "--no-wait")
    assert rc == 16 and out == ""
    assert err.splitlines()[-1].startswith("cplane: create: ALREADY_EXISTS: ")
    assert "accepted" not in err
    rc, out, err = env.run("create", "Bad", "--no-wait")
    assert rc == 13 and "cancelled" not in err.lower(), err


def test_create_ready_same_spec_is_success_at_once(env):
    env.run("create", "c-again", "--replicas", "2")
    rc, out, err = env.run("create", "c-again", "--replicas", "2")
    assert rc == 0, err
    assert 'msg="Created cluster" name=c-again replicas=2 took=' in err


def wait_phase(env, name, phase, timeout=15):
    c = Client(env.target)
    try:
        wait_until(lambda: phase_of(c, name) == phase, timeout, "%s in phase %s" % (name, phase))
    finally:
        c.close()


def test_second_create_and_delete_follow_the_first(env):
    """Two drivers at once: the second is answered IN_PROGRESS and follows the watch to the same end."""
    pb = pb2()
    env.sim.admin("pace", {"ms": 100})            # 20 pods: two seconds to see CREATING, DELETING
    try:
        cmd = [BIN, "--driver", "--target", env.target]
        first = subprocess.Popen(cmd + ["create", "twin", "--replicas", "20"], env=dict(TOKEN_ENV),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_phase(env, "twin", pb.CREATING)
        env.sim.knobs(controller_paused=True)       # still creating when the second driver's call arrives
        rc, out, err = drv_until("being created by another call",
                                 lambda: env.sim.knobs(controller_paused=False, ready_pace_ms=20),
                                 "create", "twin", "--replicas", "20", target=env.target)
        assert (rc, out) == (0, ""), err
        assert norm_log(err) == (log("Creating cluster", name="twin", replicas=20) +
                                 log("Cluster is being created by another call; following it", name="twin") +
                                 log("Created cluster", name="twin", replicas=20, took="<dur>"))
        assert first.wait(30) == 0
        env.sim.admin("pace", {"ms": 100})
        first = subprocess.Popen(cmd + ["delete", "twin"], env=dict(TOKEN_ENV),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_phase(env, "twin", pb.DELETING)
        env.sim.knobs(controller_paused=True)       # still deleting when the second driver's call arrives
        rc, out, err = drv_until("being deleted by another call",
                                 lambda: env.sim.knobs(controller_paused=False, ready_pace_ms=20),
                                 "delete", "twin", target=env.target)
        assert (rc, out) == (0, ""), err
        assert norm_log(err) == (log("Deleting cluster", name="twin") +
                                 log("Cluster is being deleted by another call; following it", name="twin") +
                                 log("Deleted cluster", name="twin", took="<dur>"))
        assert first.wait(30) == 0
    finally:
        env.sim.knobs(controller_paused=False)
        env.sim.admin("pace", {"ms": 20})
        if first.poll() is None:
            first.kill()
            first.wait()


# ---- get, delete --------------------------------------------------------------------------


def test_get_table_and_json(env):
    assert env.run("create", "g-one", "--replicas", "2")[0] == 0
    rc, out, err = env.run("get", "g-one")
    assert (rc, err) == (0, "")
    assert norm_table(out) == ("NAME    REPLICAS   READY   UPDATED   PHASE   AGE\n"
                               "g-one   2          2       2         READY   <age>\n")
    rc, out, err = env.run("get", "g-one", "-o", "json")
    assert (rc, err) == (0, "")
    assert norm_json(out) == cjson("g-one", 2, 2, "READY", "2/2 replicas available")
    rc, out, err = env.run("get", "g-one", "-o", "table")
    assert norm_table(out).endswith("g-one   2          2       2         READY   <age>\n")


def test_delete(env):
    assert env.run("create", "d-one", "--replicas", "3")[0] == 0
    rc, out, err = env.run("delete", "d-one")
    assert (rc, out) == (0, ""), err
    assert norm_log(err) == log("Deleting cluster", name="d-one") + log("Deleted cluster", name="d-one",
                                                                        took="<dur>")
    rc, out, err = env.run("get", "d-one")
    assert rc == 15 and out == ""
    assert err == "cplane: get: NOT_FOUND: cluster d-one not found\n"


# ---- list ---------------------------------------------------------------------------------


def test_list_empty_and_several_sorted(fresh):
    rc, out, err = fresh.run("list")
    assert (rc, out, err) == (0, "NAME   REPLICAS   READY   UPDATED   PHASE   AGE\n", "")
    rc, out, err = fresh.run("list", "-o", "json")
    assert (rc, out, err) == (0, "", "")
    for name, n in (("zeta", 1), ("alpha-long-name", 3), ("mid", 2)):
        assert fresh.run("create", name, "--replicas", str(n))[0] == 0
    c = Client(fresh.target)
    try:
        fresh.sim.admin("pace", {"ms": 200})            # 40 pods at 200 ms: still creating when listed
        first = c.create_future("nu", 40)
        wait_until(lambda: phase_of(c, "nu") == pb2().CREATING, 10, "nu CREATING")
        fresh.sim.knobs(controller_paused=True)         # and held there while listed
        try:
            rc, out, err = fresh.run("list")
        finally:
            fresh.sim.knobs(controller_paused=False)
        assert (rc, err) == (0, "")
        rows = norm_table(out).splitlines()
        assert rows[0] == "NAME              REPLICAS   READY   UPDATED   PHASE      AGE"
        assert rows[1] == "alpha-long-name   3          3       3         READY      <age>"
        assert rows[2] == "mid               2          2       2         READY      <age>"
        assert re.fullmatch(r"nu {16}40 {9}\d+ +\d+ +CREATING   <age>", rows[3]), rows[3]
        assert rows[4] == "zeta              1          1       1         READY      <age>"
        assert len(rows) == 5
        fresh.sim.admin("pace", {"ms": 20})
        first.result(timeout=20)
    finally:
        c.close()
    rc, out, err = fresh.run("list")
    assert norm_table(out) == ("NAME              REPLICAS   READY   UPDATED   PHASE   AGE\n"
                               "alpha-long-name   3          3       3         READY   <age>\n"
                               "mid               2          2       2         READY   <age>\n"
                               "nu                40         40      40        READY   <age>\n"
                               "zeta              1          1       1         READY   <age>\n")
    rc, out, err = fresh.run("list", "-o", "json")
    assert (rc, err) == (0, "")
    assert norm_json(out) == (cjson("alpha-long-name", 3, 3, "READY", "3/3 replicas available") +
                              cjson("mid", 2, 2, "READY", "2/2 replicas available") +
                              cjson("nu", 40, 40, "READY", "40/40 replicas available") +
                              cjson("zeta", 1, 1, "READY", "1/1 replicas available"))


# ---- watch --------------------------------------------------------------------------------


class Lines:
    """Whole lines from a child's stdout as they come (select + os.read: no hidden buffering)."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def line(self, timeout=15):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            assert left > 0, "no line from the watch"
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(self.fd, 65536)
                assert chunk, "the watch ended early"
                self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode() + "\n"

    def rest(self, timeout=20):
        out, err = self.proc.communicate(timeout=timeout)
        return self.buf.decode() + out.decode(), err.decode()


def test_watch_until_deleted_table_and_json(env):
    assert env.run("create", "w-one", "--replicas", "2")[0] == 0
    cmd = [BIN, "--driver", "--target", env.target, "watch", "w-one"]
    tab = subprocess.Popen(cmd, env=dict(TOKEN_ENV), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    js = subprocess.Popen(cmd + ["-o", "json"], env=dict(TOKEN_ENV), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        tl, jl = Lines(tab), Lines(js)
        head = tl.line() + tl.line()
        assert norm_table(head) == ("NAME    REPLICAS   READY   UPDATED   PHASE      AGE\n"
                                    "w-one   2          2       2         READY      <age>\n")
        first = jl.line()
        assert norm_json(first) == cjson("w-one", 2, 2, "READY", "2/2 replicas available")
        assert env.run("delete", "w-one")[0] == 0
        tout, terr = tl.rest()
        jout, jerr = jl.rest()
    finally:
        for p in (tab, js):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert (tab.returncode, terr) == (0, "")
    assert (js.returncode, jerr) == (0, "")
    rows = tout.splitlines()
    # DELETING rows (one per change while pods go), then DELETED: the stream's last message
    assert rows, tout
    assert rows[-1] == "w-one   2          0       0         DELETED    <unknown>"
    for r in rows[:-1]:
        assert re.fullmatch(r"w-one   2          [012]       [012]         DELETING   (?:\d+[smhdy])+", r), r
    jl = jout.splitlines(True)
    # the last snapshot of a gone cluster names the image it last had
    assert jl[-1] == cjson("w-one", 2, 0, "DELETED", "", ts="0"), jl[-1]
    for ln in jl[:-1]:
        assert re.fullmatch(r'\{"name":"w-one","replicas":2,"readyReplicas":[012],"phase":"DELETING",'
                            r'"message":"deleting; [012]/2 replicas available",'
                            r'"image":"registry\.k8s\.io/pause:3\.9","createdUnixMs":"<ts>",'
                            r'"updatedReplicas":[012]\}\n',
                            norm_json(ln)), ln


def test_watch_has_no_deadline_unless_asked(env):
    assert env.run("create", "w-long")[0] == 0
    rc, out, err = env.run("watch", "w-long", "--timeout", "1s")
    assert rc == 14 and err == "cplane: watch: DEADLINE_EXCEEDED: deadline exceeded\n"
    assert norm_table(out) == ("NAME     REPLICAS   READY   UPDATED   PHASE      AGE\n"
                               "w-long   1          1       1         READY      <age>\n")
    # CPLANE_TIMEOUT is the same flag: the default 10m would not apply to a watch
    p = subprocess.Popen([BIN, "--driver", "watch", "w-long"], env=dict(TOKEN_ENV, CPLANE_TARGET=env.target),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert Lines(p).line().startswith("NAME")
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_watch_absent_is_not_found(env):
    rc, out, err = env.run("watch", "w-none")
    assert (rc, out) == (15, "")
    assert err == "cplane: watch: NOT_FOUND: cluster w-none not found\n"


# ---- demo ---------------------------------------------------------------------------------

DEMO_LINES = [
    r'time="\S+" level=info msg="Creating cluster" name=demo replicas=30',
    r'time="\S+" level=info msg="Created cluster" name=demo replicas=30 took=\d[\dhms.u]*s',
    r'time="\S+" level=info msg="Deleting cluster" name=demo',
    r'time="\S+" level=info msg="Deleted cluster" name=demo took=\d[\dhms.u]*s',
]


def test_demo_is_the_default(env):
    rc, out, err = env.run(timeout=90)
    assert (rc, out) == (0, ""), err
    lines = err.splitlines()
    assert len(lines) == 4, err
    for ln, pat in zip(lines, DEMO_LINES):
        assert re.fullmatch(pat, ln), ln
    rc, out, err = env.run("get", "demo")
    assert rc == 15


def test_demo_on_a_terminal_shows_progress_then_the_four_lines(env):
    from test_driver_interop import drv_tty
    rc, out, term = drv_tty(env.target, timeout=90, env=TOKEN_ENV)
    assert (rc, out) == (0, ""), term
    assert re.search(r"\rdemo: \d+/30 replicas ready \(CREATING\)", term), term
    assert re.search(r"\rdemo: \d+/30 replicas ready \(DELETING\)", term), term
    # each progress line is erased ("\r", spaces, "\r") before the next log line
    shown = re.sub(r"\r +\r", "", re.sub(r"\r[^\r\n]*replicas ready \(\w+\) *", "", term))
    lines = shown.replace("\r\n", "\n").splitlines()
    assert len(lines) == 4, repr(shown)
    for ln, pat in zip(lines, DEMO_LINES):
        assert re.fullmatch(pat, ln), ln


def test_demo_command_with_name_and_replicas(env):
    rc, out, err = env.run("demo", "--name", "demo-two", "--replicas", "4", timeout=60)
    assert (rc, out) == (0, ""), err
    assert norm_log(err) == (log("Creating cluster", name="demo-two", replicas=4) +
                             log("Created cluster", name="demo-two", replicas=4, took="<dur>") +
                             log("Deleting cluster", name="demo-two") +
                             log("Deleted cluster", name="demo-two", took="<dur>"))


def test_json_log_format(env):
    rc, out, err = env.run("get", "no-such", "--log-format", "json")
    assert rc == 15
    rc, out, err = env.run("create", "lj", "--log-format", "json")
    assert rc == 0
    import json
    msgs = [json.loads(ln)["msg"] for ln in err.splitlines()]
    assert msgs == ["Creating cluster", "Created cluster"]


# ---- usage and error classes --------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["bogus"],
    ["create"],
    ["create", "a", "b"],
    ["get"],
    ["delete"],
    ["watch"],
    ["list", "extra"],
    ["create", "a", "--replicas", "0"],
    ["create", "a", "--replicas", "many"],
    ["list", "-o", "yaml"],
    ["list", "--frobnicate"],
    ["list", "--timeout", "soon"],
    ["list", "--log-level", "loud"],
    ["list", "--target", "no-port-here"],
])
def test_bad_usage_is_exit_2_with_one_line(args):
    rc, out, err = drv(*args, target="127.0.0.1:1", timeout=10)
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("cplane: "), err


def test_help_documents_the_driver():
    p = subprocess.run([BIN, "--help"], env={}, capture_output=True, text=True, timeout=10)
    text = p.stdout + p.stderr
    for word in ("--driver", "create NAME", "--no-wait", "watch NAME", "CPLANE_TARGET", "--timeout",
                 "-o, --output", "15 NOT_FOUND", "24 UNAVAILABLE", "2 bad usage", "replicas ready",
                 "retries resolving and connecting"):
        assert word in text, word


def last_err(err):
    return err.splitlines()[-1]


def test_error_not_found(env):
    for cmd in ("get", "delete", "watch"):
        rc, out, err = env.run(cmd, "e-missing")
        assert (rc, out) == (15, ""), (cmd, err)
        assert last_err(err) == "cplane: %s: NOT_FOUND: cluster e-missing not found" % cmd


def test_error_already_exists(env):
    assert env.run("create", "e-exists", "--replicas", "2")[0] == 0
    rc, out, err = env.run("create", "e-exists", "--replicas", "3")
    assert (rc, out) == (16, "")
    assert last_err(err).startswith("cplane: create: ALREADY_EXISTS: ")
    assert "replicas=2" in last_err(err)


@pytest.mark.parametrize("args,field", [
    (["create", "Bad_Name"], "name"),
    (["create", "e-toomany", "--replicas", "51"], "replicas"),
    (["create", "e-image", "--image", "not an image"], "image"),
])
def test_error_invalid_argument(env, args, field):
    rc, out, err = env.run(*args)
    assert (rc, out) == (13, "")
    assert last_err(err).startswith("cplane: create: INVALID_ARGUMENT: ")
    assert field in last_err(err)


def test_error_deadline_exceeded_unschedulable(tmp_path):
    """No node carries the selector's label: the answer is a diagnosis, not a bare timeout."""
    e = Env(tmp_path, "--create-timeout", "2s", node_selector="cplane.dev/pool=elsewhere")
    try:
        rc, out, err = e.run("create", "stuck", "--replicas", "2")
        assert (rc, out) == (14, "")
        le = last_err(err)
        assert le.startswith("cplane: create: DEADLINE_EXCEEDED: ")
        assert "didn't match Pod's node affinity/selector" in le
    finally:
        e.stop()


def test_error_deadline_exceeded_driver_timeout_nearer(tmp_path):
    """--timeout goes out as grpc-timeout: the worker answers a margin before it, with the why."""
    e = Env(tmp_path, "--create-timeout", "60s", node_selector="cplane.dev/pool=elsewhere")
    try:
        rc, out, err = e.run("create", "stuck", "--replicas", "2", "--timeout", "3s")
        assert (rc, out) == (14, "")
        le = last_err(err)
        assert le.startswith("cplane: create: DEADLINE_EXCEEDED: ")
        assert "didn't match Pod's node affinity/selector" in le, le
    finally:
        e.stop()


def test_error_unavailable_nothing_listens():
    port = free_port()
    rc, out, err = drv("list", "--timeout", "1s", target="127.0.0.1:%d" % port, timeout=20)
    assert (rc, out) == (24, "")
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert 'msg="Waiting for the worker" target="127.0.0.1:%d"' % port in lines[0]
    assert lines[1] == ("cplane: connect: UNAVAILABLE: gave up after 1s waiting for the worker at 127.0.0.1:%d: "
                        "connect 127.0.0.1:%d: Connection refused" % (port, port))


def test_default_target_is_the_in_cluster_service():
    rc, out, err = drv("list", "--timeout", "1s", env={"POD_NAMESPACE": "ns-x"}, timeout=30)
    assert rc == 24
    assert "cplane.ns-x.svc.cluster.local:50051" in last_err(err)


# ---- target selection and start-up --------------------------------------------------------


def test_cplane_target_env_is_the_default_and_flag_wins(env):
    rc, out, err = drv("list", env=dict(TOKEN_ENV, CPLANE_TARGET=env.target))
    assert rc == 0 and out.startswith("NAME"), err
    # --target beats the environment
    rc, out, err = drv("list", "--target", env.target, env={"CPLANE_TARGET": "127.0.0.1:1"})
    assert rc == 0, err


def test_startup_retry_waits_for_the_worker(env, tmp_path):
    port = free_port()
    target = "127.0.0.1:%d" % port
    p = subprocess.Popen([BIN, "--driver", "create", "late", "--replicas", "2", "--timeout", "30s"],
                         env=dict(TOKEN_ENV, CPLANE_TARGET=target), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w = None
    early = b""
    try:
        # the driver says it waits (after its first refused connect); then the worker comes
        end = time.monotonic() + 20
        while b"Waiting for the worker" not in early and p.poll() is None and time.monotonic() < end:
            if select.select([p.stderr], [], [], 0.5)[0]:
                early += os.read(p.stderr.fileno(), 4096)
        assert b"Waiting for the worker" in early, early
        assert p.poll() is None, "the driver gave up before the worker came"
        w = start_worker(env.sim, tmp_path, port=port, wait_synced=False)
        out, err = p.communicate(timeout=30)
        err = early.decode() + err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if w:
            w.stop()
    assert (p.returncode, out) == (0, ""), err
    lines = norm_log(err).splitlines(True)
    assert lines[0].startswith(log("Waiting for the worker", target='"%s"' % target).rstrip("\n") +
                               ' reason="connect %s: Connection refused"' % target)
    assert lines[1:] == [log("Worker is reachable", target='"%s"' % target),
                         log("Creating cluster", name="late", replicas=2),
                         log("Created cluster", name="late", replicas=2, took="<dur>")]
    assert sum("Waiting" in ln for ln in lines) == 1
