"""The worker started the way deploy/ starts it passes a create and a delete (issue 9).

The worker container's args are read from `kubectl kustomize deploy/` and
used as they are, except the two listen addresses, which move to free
loopback ports. Two ways of giving it the Kubernetes API (kubesim):

- "pod": as in the pod — KUBERNETES_SERVICE_HOST/PORT and the simulator's
  service-account files mounted at /var/run/secrets/kubernetes.io/serviceaccount
  inside a private mount namespace whose root holds only /cplane, a few
  devices and /proc, read-only, run as 65532:65532 with no capabilities and
  no_new_privs (the manifest's securityContext, seccomp aside). Needs root
  and unshare(1); skipped otherwise.
- "flags": out of cluster, the same args plus --apiserver, --token-file,
  --ca-file and --namespace pointing at the simulator's files.

And the pair: in a private network namespace (so even the ports stay the
manifest's), the worker and the driver pod as deploy/ starts them, the driver
reaching the worker by the Service name, running the demo scenario to the end.
The sandboxes are in deploy_pod_sim.py.

kubesim refuses (403) every verb the Role does not grant, so the run also
shows that the Role is enough. They never pass without a create and a delete
having happened; they skip only where the machine lacks what they need
(kubectl, python3-yaml, root and unshare for the sandbox), never because of
what the build does.
"""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (sh scripts/setup.sh)")
grpc = pytest.importorskip("grpc", reason="python3-grpcio is not installed (sh scripts/setup.sh)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kubesim_fixture import start_kubesim  # noqa: E402
from deploy_pod_sim import (open_service_account, pod_command, pod_env, sandbox_unusable,  # noqa: E402
                            snapshot_binary)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BUILT = os.path.join(ROOT, "build", "cplane")
NAMESPACE = "cplane-e2e"   # not "default": the namespace must come from the service account
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")

# ---- the manifest ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: cannot render deploy/")
    p = subprocess.run(["kubectl", "kustomize", DEPLOY], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    objs = [o for o in yaml.safe_load_all(p.stdout) if o]
    (dep,) = [o for o in objs if o["kind"] == "Deployment"]
    (pod,) = [o for o in objs if o["kind"] == "Pod"]
    (role,) = [o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == "cplane"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    (dc,) = pod["spec"]["containers"]
    (mnt,) = dc.get("volumeMounts", [])
    return {"driver_token_dir": mnt["mountPath"],"args": list(c.get("args", [])), "env": c.get("env", []), "role": role,
            "ports": {p["name"]: p["containerPort"] for p in c.get("ports", [])},
            "driver_args": list(dc.get("args", [])), "driver_env": dc.get("env", []),
            "grace": dep["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)}


def deny_rules(role):
    """kubesim `deny` knob: every verb on deployments/pods the Role leaves out, and anything else."""
    allowed = {}
    for r in role["rules"]:
        for res in r["resources"]:
            allowed.setdefault(res, set()).update(r["verbs"])
    rules = ["%s %s" % (v, res) for res in ("deployments", "pods") for v in ALL_VERBS
             if v not in allowed.get(res, ())]
    return rules + ["* namespaces", "* nodes"]


def worker_flags_in_help():
    p = subprocess.run([snapshot_binary(BUILT), "--help"], capture_output=True, text=True, timeout=10)
    return p.stdout if p.returncode == 0 else ""


def test_manifest_flags_are_the_binarys(manifest):
    BINARY = snapshot_binary(BUILT)
    assert BINARY is not None, "build/cplane is missing (make)"
    text = worker_flags_in_help()
    for a in manifest["args"]:
        flag = a.split("=", 1)[0]
        assert flag + " " in text, "%s is not a flag of build/cplane --help" % flag


# ---- gRPC without generated stubs: protoc --python_out for the messages -------------------

@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    if shutil.which("protoc") is None:
        pytest.skip("protoc is not installed (sh scripts/setup.sh)")
    out = tmp_path_factory.mktemp("pb")
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", str(out),
                    os.path.join(ROOT, "proto", "cplane", "v1", "cplane.proto")], check=True, timeout=60)
    path = os.path.join(str(out), "cplane", "v1", "cplane_pb2.py")
    spec = importlib.util.spec_from_file_location("deploy_worker_cplane_pb2", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def unary(channel, method, req_cls_serialize, resp_cls):
    return channel.unary_unary("/cplane.v1.ClusterService/" + method,
                               request_serializer=req_cls_serialize, response_deserializer=resp_cls.FromString)


def health_status(channel, timeout=2.0):
    """grpc.health.v1.Health/Check with service "" (the kubelet's probe); the status enum, or None."""
    check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    try:
        raw = check(b"", timeout=timeout)
    except grpc.RpcError:
        return None
    # HealthCheckResponse { ServingStatus status = 1; }: absent means UNKNOWN (0).
    if raw[:1] == b"\x08" and len(raw) >= 2:
        return raw[1]
    return 0


# ---- running the worker ---------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_ports(args, grpc_port, metrics_port):
    out = []
    for a in args:
        flag = a.split("=", 1)[0]
        if flag == "--listen":
            a = "--listen=127.0.0.1:%d" % grpc_port
        elif flag == "--metrics-addr":
            a = "--metrics-addr=127.0.0.1:%d" % metrics_port
        out.append(a)
    if not any(a.startswith("--listen=") for a in out):
        out.append("--listen=127.0.0.1:%d" % grpc_port)
    return out


class Worker:
    def __init__(self, how, sim, manifest, tmp):
        BINARY = snapshot_binary(BUILT)
        self.grpc_port = free_port()
        self.metrics_port = free_port()
        args = with_ports(manifest["args"], self.grpc_port, self.metrics_port)
        env = {e["name"]: e["value"] for e in manifest["env"] if "value" in e}
        if how == "pod":
            env = pod_env(manifest["env"], sim.port, "cplane-5d8f7c9b4-x2x7q")
            rootdir = tempfile.mkdtemp(prefix="cplane-root-", dir=str(tmp))
            cmd = pod_command(rootdir, BINARY, args, sa_dir=sim.sa_dir)
        else:
            cmd = [BINARY] + args + ["--apiserver=" + sim.url, "--token-file=" + sim.token_file,
                                     "--ca-file=" + sim.ca, "--namespace=" + sim.namespace]
        self.log_path = os.path.join(str(tmp), "worker-%s.log" % how)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=str(tmp))
        # A caller deploy/ grants (Role cplane-client): kubesim's client token for cplane-driver.
        from cplane_fixture import _Bearer
        self.raw_channel = grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port)
        self.channel = grpc.intercept_channel(self.raw_channel, _Bearer(sim.client_token))

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_serving(self, timeout=30.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                out = self.output()
                pytest.fail("worker exited %d before serving:\n%s" % (self.proc.returncode, out[-3000:]))
            if health_status(self.channel, timeout=1.0) == 1:
                return
            time.sleep(0.1)    # polls inside wait_serving's bounded loop
        pytest.fail("worker not SERVING on grpc.health.v1 after %.0fs:\n%s" % (timeout, self.output()[-3000:]))

    def stop(self, grace):
        self.raw_channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return None
            finally:
                self.log.close()
        self.log.close()
        return self.proc.returncode


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


@pytest.mark.parametrize("how", ["pod", "flags"])
def test_worker_as_deployed_creates_and_deletes(how, manifest, pb, tmp_path):
    BINARY = snapshot_binary(BUILT)
    assert BINARY is not None, "build/cplane is missing (make)"
    assert "--node-selector" in worker_flags_in_help(), "build/cplane --help lists the worker's flags"
    if how == "pod":
        why = sandbox_unusable()
        if why:
            pytest.skip("pod-like sandbox unavailable: " + why)

    selector = dict([a.split("=", 1)[1].split("=", 1) for a in manifest["args"]
                     if a.startswith("--node-selector=")])
    node_label = ["%s=%s" % kv for kv in selector.items()]
    sim = start_kubesim(tmp_path / "kubesim", "--namespace", NAMESPACE, "--ready-pace-ms", "10",
                        *sum((["--node", n] for n in node_label), []))
    w = None
    try:
        sim.knobs(deny=deny_rules(manifest["role"]))
        if how == "pod":
            open_service_account(sim.sa_dir)
        w = Worker(how, sim, manifest, tmp_path)
        w.wait_serving()

        if how == "pod":
            st = proc_status(w.proc.pid)
            assert st["Uid"][:2] == ["65532", "65532"] and st["Gid"][:2] == ["65532", "65532"], st["Uid"]
            assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0
            assert st["NoNewPrivs"] == ["1"]

        C = pb
        create = unary(w.channel, "CreateCluster", C.CreateClusterRequest.SerializeToString,
                       C.CreateClusterResponse)
        delete = unary(w.channel, "DeleteCluster", C.DeleteClusterRequest.SerializeToString,
                       C.DeleteClusterResponse)
        resp = create(C.CreateClusterRequest(name="deployed", replicas=3), timeout=60)
        assert resp.result == C.SUCCESS
        assert resp.cluster.name == "deployed" and resp.cluster.phase == C.READY
        assert resp.cluster.ready_replicas == 3

        (dep,) = sim.state("deployments")["deployments"]
        assert dep["metadata"]["namespace"] == NAMESPACE
        assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "cplane"
        assert dep["spec"]["template"]["spec"].get("nodeSelector") == selector

        resp = delete(C.DeleteClusterRequest(name="deployed"), timeout=60)
        assert resp.result == C.SUCCESS
        assert sim.state("deployments")["deployments"] == []

        # The port the manifest declares and annotates for Prometheus.
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % w.metrics_port, timeout=5) as r:
            assert r.status == 200
            assert r.headers.get("Content-Type", "").startswith("text/plain")

        stats = sim.state()["stats"]
        assert stats.get("forbidden", 0) == 0, "the worker needed a verb the Role does not grant:\n" + \
            w.output()[-2000:]

        code = w.stop(manifest["grace"])
        assert code == 0, "SIGTERM with nothing waiting should exit 0 within the pod's grace:\n" + w.output()[-2000:]
        w = None
    finally:
        if w is not None:
            if sys.exc_info()[0] is not None:
                print("---- worker log ----\n" + w.output()[-4000:])
            w.stop(5)
        sim.stop()


def test_worker_and_driver_pods_play_the_demo(manifest, tmp_path):
    """deploy/'s two pods, unchanged, in a private network: the driver's demo ends 0."""
    BINARY = snapshot_binary(BUILT)
    assert BINARY is not None, "build/cplane is missing (make)"
    why = sandbox_unusable()
    if why:
        pytest.skip("pod-like sandbox unavailable: " + why)
    if shutil.which("ip") is None:
        pytest.skip("ip(8) is not installed (iproute2)")
    p = subprocess.run([shutil.which("unshare"), "--net", shutil.which("ip"), "link", "set", "lo", "up"],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        pytest.skip("a private network namespace is not available here: " + p.stderr.strip())
    assert "--node-selector" in worker_flags_in_help(), "build/cplane --help lists the worker's flags"

    selector = [a.split("=", 1)[1] for a in manifest["args"] if a.startswith("--node-selector=")]
    addr = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in manifest["args"] if "=" in a}
    spec = {
        "workdir": str(tmp_path), "binary": BINARY, "namespace": NAMESPACE, "node_labels": selector,
        "deny": deny_rules(manifest["role"]), "grace": manifest["grace"],
        "worker_args": manifest["args"], "worker_env": manifest["env"],
        "driver_args": manifest["driver_args"], "driver_env": manifest["driver_env"],
        "driver_token_dir": manifest["driver_token_dir"],
        "grpc_port": int(addr.get("--listen", ":50051").rsplit(":", 1)[1]),
        "metrics_port": int(addr["--metrics-addr"].rsplit(":", 1)[1]),
        "driver_timeout": 60,
    }
    assert spec["grpc_port"] == manifest["ports"]["grpc"]
    assert spec["metrics_port"] == manifest["ports"]["metrics"]
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [shutil.which("unshare"), "--net", "--mount", "--propagation", "private", "/usr/bin/python3",
           os.path.join(HERE, "deploy_pod_sim.py"), str(spec_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    logs = "\n---- driver ----\n%s\n---- worker ----\n%s" % (r.get("driver_log"), r.get("worker_log"))
    assert r["driver_rc"] == 0, logs
    order = ["Creating cluster", "Created cluster", "Deleting cluster", "Deleted cluster"]
    at = [r["driver_log"].find('msg="%s"' % m) for m in order]
    assert -1 not in at and at == sorted(at), "the demo's four lines, in order:" + logs
    assert r["health"] == 1, "the kubelet's gRPC probe on the manifest's port: SERVING" + logs
    assert r["metrics_status"] == 200 and r["metrics_type"].startswith("text/plain"), r["metrics_status"]
    assert r["deployments_left"] == [], logs
    assert r["stats"].get("forbidden", 0) == 0, "a verb outside the Role was needed" + logs
    assert r["worker_rc"] == 0, "SIGTERM within terminationGracePeriodSeconds exits 0" + logs
