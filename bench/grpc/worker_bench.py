#!/usr/bin/python3
"""The real worker (build/cplane) under bench/grpc's load: unary GetCluster of an existing cluster "demo"
(kubesim holds its Deployment, the worker's table answers), h2load on core 1, the worker on core 0.

Runs, each in the two shapes 1x100 and 50x10:
  worker            --auth none
  worker_auth       auth on, `authorization: Bearer <43-byte token>` on every call, cache warm
  worker_auth_jwt   auth on, a 1,000-byte token (the size of a projected service-account JWT), cache warm
  worker_hdr, worker_hdr_jwt   --auth none, the same authorization header sent anyway: what carrying the
                    header through HPACK/h2/gRPC costs, so auth_gate_* is the gate's own share
Prints cpu_us_per_call_<run>_<shape> (utime+stime / calls; user_us_ and sys_us_per_call_ split it),
calls_per_s_<run>_<shape>,
auth_adds_cpu_us_per_call[_jwt]_<shape>, and, unless WORKER_BENCH_CALLGRIND=0, instructions per call
under callgrind (ir_per_call_<run>: the difference of two runs of different lengths, so start-up and the
first sync cancel out) -- a figure the machine's load does not move.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from kubesim_fixture import start_kubesim  # noqa: E402

BIN = os.path.join(ROOT, "build", "cplane")
OUT = os.path.join(ROOT, "build", "bench", "grpc")
N = int(os.environ.get("GRPC_BENCH_CALLS", "100000"))
TOKEN = "bench-token-" + "x" * 31                       # 43 bytes, as kubesim's own tokens
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0." + "a" * 900 + ".sig"   # ~1 KB, a projected token's size
JWT = JWT[:1000]
PIN = os.environ.get("GRPC_BENCH_PIN", "1") != "0" and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ticks(pid, which=(11, 12)):
    """utime + stime of every thread (which=(11,) or (12,): one of them), in clock ticks."""
    t = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, task)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        t += sum(int(fields[i]) for i in which)
    return t


def h2load(port, conns, streams, calls, token=None):
    cmd = (["taskset", "-c", "1"] if PIN else []) + [
        "h2load", "-n", str(calls), "-c", str(conns), "-m", str(streams), "-d", os.path.join(OUT, "body"),
        "-H", "content-type: application/grpc", "-H", "te: trailers"]
    if token:
        cmd += ["-H", "authorization: Bearer " + token]
    cmd.append("http://127.0.0.1:%d/cplane.v1.ClusterService/GetCluster" % port)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if "%d succeeded" % calls not in p.stdout:
        raise SystemExit("h2load failed:\n" + p.stdout[-2000:] + p.stderr[-2000:])
    m = re.search(r"finished in .*?, ([0-9.]+) req/s", p.stdout)
    return float(m.group(1)) if m else 0.0


def grpc_status_ok(port, token):
    """One call: the worker answered with a message (the cluster exists, the caller is allowed); every
    error is a Trailers-Only answer with no DATA."""
    cmd = ["h2load", "-v", "-n", "1", "-c", "1", "-d", os.path.join(OUT, "body"),
           "-H", "content-type: application/grpc", "-H", "te: trailers"]
    if token:
        cmd += ["-H", "authorization: Bearer " + token]
    cmd.append("http://127.0.0.1:%d/cplane.v1.ClusterService/GetCluster" % port)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    m = re.search(r"(\d+)B \(\d+\) data", p.stdout)
    return "1 succeeded" in p.stdout and m is not None and int(m.group(1)) > 0


def start_worker(sim, auth, wrap=()):
    port = free_port()
    log = open(os.path.join(OUT, "worker_%s.log" % ("auth" if auth else "none")), "w")
    args = list(wrap) + [BIN, "--listen", "127.0.0.1:%d" % port, "--apiserver", sim.url,
                         "--token-file", sim.token_file, "--ca-file", sim.ca, "--namespace", sim.namespace,
                         "--log-level", "warn"]
    if not auth:
        args += ["--auth", "none"]
    if PIN and not wrap:
        args = ["taskset", "-c", "0"] + args
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    end = time.time() + (120 if wrap else 20)
    while not grpc_status_ok(port, TOKEN if auth else None):
        if proc.poll() is not None or time.time() > end:
            proc.kill()
            raise SystemExit("worker did not answer GetCluster demo:\n" + open(log.name).read()[-2000:])
        time.sleep(0.2)
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(sim, run, auth, token):
    out = {}
    proc, port = start_worker(sim, auth)
    try:
        for shape, conns, streams in (("1x100", 1, 100), ("50x10", 50, 10)):
            h2load(port, conns, streams, max(N // 10, 1000), token)      # warm-up: the reviews, the cache
            u0, k0 = cpu_ticks(proc.pid, (11,)), cpu_ticks(proc.pid, (12,))
            rps = h2load(port, conns, streams, N, token)
            u1, k1 = cpu_ticks(proc.pid, (11,)), cpu_ticks(proc.pid, (12,))
            out[shape] = (u1 - u0 + k1 - k0) * 1e6 / CLK / N
            print("calls_per_s_%s_%s=%d" % (run, shape, rps))
            print("cpu_us_per_call_%s_%s=%.2f" % (run, shape, out[shape]))
            # the split: the worker's own code vs the kernel's (poll, send/recv, loopback TCP) for it
            print("user_us_per_call_%s_%s=%.2f" % (run, shape, (u1 - u0) * 1e6 / CLK / N))
            print("sys_us_per_call_%s_%s=%.2f" % (run, shape, (k1 - k0) * 1e6 / CLK / N), flush=True)
    finally:
        stop(proc)
    return out


def callgrind_ir(sim, auth, token, calls):
    d = tempfile.mkdtemp(prefix="cg-", dir=OUT)
    f = os.path.join(d, "callgrind.out")
    proc, port = start_worker(sim, auth, wrap=("valgrind", "--tool=callgrind", "--callgrind-out-file=" + f))
    try:
        h2load(port, 1, 100, calls, token)
    finally:
        stop(proc)
    with open(f) as fh:
        for line in fh:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise SystemExit("no totals in " + f)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "body"), "wb") as f:
        f.write(b"\x00\x00\x00\x00\x06\x0a\x04demo")
    sim = start_kubesim(os.path.join(OUT, "kubesim"), "--instant", "--client-token", TOKEN)
    try:
        code, _ = sim.deployment("demo", replicas=1)
        assert code == 201, code
        sim.auth(add_users=[{"token": JWT, "username": "system:serviceaccount:default:bench-jwt",
                             "groups": ["system:authenticated"], "audiences": ["cplane"]}],
                 add_rules=[{"users": ["system:serviceaccount:default:bench-jwt"], "verbs": ["get"],
                             "apiGroups": ["cplane.dev"], "resources": ["clusters"], "namespace": "default",
                             "names": []}])
        none = measure(sim, "worker", False, None)
        auth = measure(sim, "worker_auth", True, TOKEN)
        jwt = measure(sim, "worker_auth_jwt", True, JWT)
        hdr = measure(sim, "worker_hdr", False, TOKEN)
        hdr_jwt = measure(sim, "worker_hdr_jwt", False, JWT)
        for shape in ("1x100", "50x10"):
            print("auth_adds_cpu_us_per_call_%s=%.2f" % (shape, auth[shape] - none[shape]))
            print("auth_adds_cpu_us_per_call_jwt_%s=%.2f" % (shape, jwt[shape] - none[shape]))
            print("auth_gate_cpu_us_per_call_%s=%.2f" % (shape, auth[shape] - hdr[shape]))
            print("auth_gate_cpu_us_per_call_jwt_%s=%.2f" % (shape, jwt[shape] - hdr_jwt[shape]))
        st = sim.admin("stats")
        print("worker_bench_reviews=token:%d,access:%d" % (st.get("tokenreviews", 0), st.get("subjectaccessreviews", 0)))
        if os.environ.get("WORKER_BENCH_CALLGRIND", "1") != "0" and shutil.which("valgrind"):
            small, big = 2000, 12000
            irs = {}
            for run, auth_on, tok in (("worker", False, None), ("worker_auth", True, TOKEN),
                                      ("worker_auth_jwt", True, JWT), ("worker_hdr", False, TOKEN),
                                      ("worker_hdr_jwt", False, JWT)):
                a = callgrind_ir(sim, auth_on, tok, small)
                b = callgrind_ir(sim, auth_on, tok, big)
                irs[run] = (b - a) / (big - small)
                print("ir_per_call_%s=%.0f" % (run, irs[run]), flush=True)
            print("auth_adds_ir_per_call=%.0f" % (irs["worker_auth"] - irs["worker"]))
            print("auth_adds_ir_per_call_jwt=%.0f" % (irs["worker_auth_jwt"] - irs["worker"]))
            print("auth_gate_ir_per_call=%.0f" % (irs["worker_auth"] - irs["worker_hdr"]))
            print("auth_gate_ir_per_call_jwt=%.0f" % (irs["worker_auth_jwt"] - irs["worker_hdr_jwt"]))
        print("worker goal (issue 13): cached authorization adds < 0.3 us server CPU per call")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
