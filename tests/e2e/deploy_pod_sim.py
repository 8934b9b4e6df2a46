"""Runs a container of deploy/ roughly as a container runtime would, for tests.

pod_command() gives the argv that starts a binary in a private mount
namespace whose root holds only /cplane, /dev/{null,zero,random,urandom},
/proc, optionally a read-only service-account mount at
/var/run/secrets/kubernetes.io/serviceaccount and an /etc/hosts; the root is
read-only and the process runs as 65532:65532 with no capabilities and
no_new_privs (the manifests' securityContext, seccomp aside). Needs root,
unshare(1), setpriv(1), chroot(8).

Run as a script inside `unshare --net --mount`, it plays the whole of deploy/
in that private network: kubesim as the API server, the worker with its
manifest args unchanged (:50051, :8080), the driver with its manifest args
and env (CPLANE_TARGET=cplane:50051, resolved through /etc/hosts as the
headless Service's DNS would), then SIGTERM to the worker; it prints one JSON
line with what happened.

    unshare --net --mount --propagation private /usr/bin/python3 deploy_pod_sim.py SPEC.json
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

_SANDBOX_SH = r"""
set -eu
root=$1 bin=$2 sa=$3 hosts=$4 tokdir=$5 tokmnt=$6; shift 6
mount -t tmpfs -o mode=0755 tmpfs "$root"
mkdir -p "$root/dev" "$root/proc" "$root/etc"
cp "$bin" "$root/cplane"
chmod 0755 "$root/cplane"
for d in null zero random urandom; do
	: > "$root/dev/$d"
	mount --bind "/dev/$d" "$root/dev/$d"
done
mount -t proc proc "$root/proc"
if [ "$hosts" != - ]; then cp "$hosts" "$root/etc/hosts"; : > "$root/etc/resolv.conf"; fi
if [ "$sa" != - ]; then
	mkdir -p "$root@SA_MOUNT@"
	mount --bind "$sa" "$root@SA_MOUNT@"
	mount -o remount,bind,ro "$root@SA_MOUNT@"
fi
if [ "$tokdir" != - ]; then
	mkdir -p "$root$tokmnt"
	mount --bind "$tokdir" "$root$tokmnt"
	mount -o remount,bind,ro "$root$tokmnt"
fi
mount -o remount,ro "$root"
exec "@SETPRIV@" --no-new-privs "@CHROOT@" --userspec=65532:65532 --groups=65532 "$root" /cplane "$@"
"""


_snapshots = {}


def snapshot_binary(path):
    """A private copy of the binary for one test session, or None if there is none.

    build/cplane is relinked whenever anyone runs make in the shared tree; a
    test that copies it mid-link would see a truncated file. The copy is
    checked to run before it is trusted.
    """
    if path in _snapshots:
        return _snapshots[path]
    if not os.path.exists(path):
        return None
    d = tempfile.mkdtemp(prefix="cplane-bin-")
    atexit.register(shutil.rmtree, d, True)
    for _ in range(20):
        copy = os.path.join(d, "cplane")
        shutil.copy2(path, copy)
        p = subprocess.run([copy, "--version"], capture_output=True, text=True, timeout=10)
        if p.returncode == 0 and p.stdout.startswith("cplane "):
            _snapshots[path] = copy
            return copy
        time.sleep(0.5)    # being relinked: try again (polling inside a bounded retry loop)
    raise RuntimeError("%s does not run (cplane --version failed)" % path)


def sandbox_unusable():
    """None when pod_command() can work here, else why not."""
    if os.geteuid() != 0:
        return "needs root (a private mount namespace and chroot)"
    for tool in ("unshare", "setpriv", "chroot", "mount"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    # The same kinds of mounts the sandbox makes, in a throw-away namespace.
    d = tempfile.mkdtemp(prefix="cplane-probe-")
    try:
        p = subprocess.run([shutil.which("unshare"), "--mount", "--propagation", "private", "sh", "-c",
                            'mount -t tmpfs tmpfs "$1" && mkdir "$1/proc" && mount -t proc proc "$1/proc" '
                            '&& mount -o remount,ro "$1"', "probe", d],
                           capture_output=True, text=True, timeout=10)
    finally:
        shutil.rmtree(d, True)
    if p.returncode != 0:
        return "mounting in a private mount namespace failed here: %s" % p.stderr.strip()
    return None


def pod_command(rootdir, binary, args, sa_dir=None, hosts_file=None, new_mount_ns=True, token=None):
    """token: (directory holding `token`, where the pod mounts it) for a projected token volume."""
    script = (_SANDBOX_SH.replace("@SA_MOUNT@", SA_MOUNT).replace("@SETPRIV@", shutil.which("setpriv"))
              .replace("@CHROOT@", shutil.which("chroot")))
    tokdir, tokmnt = token or ("-", "-")
    cmd = ["sh", "-c", script, "pod", rootdir, binary, sa_dir or "-", hosts_file or "-", tokdir, tokmnt] + list(args)
    if new_mount_ns:
        cmd = [shutil.which("unshare"), "--mount", "--propagation", "private"] + cmd
    return cmd


def pod_env(env_list, apiserver_port, hostname):
    """What the kubelet puts in a container's environment (service links off) plus the manifest's env."""
    env = {
        "HOSTNAME": hostname,
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(apiserver_port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(apiserver_port),
        "KUBERNETES_PORT": "tcp://127.0.0.1:%d" % apiserver_port,
    }
    env.update({e["name"]: e["value"] for e in env_list if "value" in e})
    return env


def open_service_account(sa_dir):
    """The files as a projected service-account volume presents them to the pod's user."""
    for name in os.listdir(sa_dir):
        os.chmod(os.path.join(sa_dir, name), 0o644)
    os.chmod(sa_dir, 0o755)


def health(port, timeout=1.0):
    import grpc
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
        try:
            raw = check(b"", timeout=timeout)
        except grpc.RpcError:
            return None
    return raw[1] if raw[:1] == b"\x08" and len(raw) >= 2 else 0


def tail(path, n=4000):
    try:
        with open(path) as f:
            return f.read()[-n:]
    except OSError:
        return ""


def run(spec):
    """Plays deploy/ inside the current (private) network namespace."""
    from kubesim_fixture import start_kubesim

    subprocess.run([shutil.which("ip") or "/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    work = spec["workdir"]
    out = {"driver_rc": None, "worker_rc": None}
    sim = start_kubesim(os.path.join(work, "kubesim"), "--namespace", spec["namespace"],
                        "--ready-pace-ms", "5", *sum((["--node", n] for n in spec["node_labels"]), []))
    procs = []
    try:
        sim.knobs(deny=spec["deny"])
        open_service_account(sim.sa_dir)
        hosts = os.path.join(work, "hosts")
        with open(hosts, "w") as f:
            # What the headless Service's DNS name resolves to: the ready worker.
            f.write("127.0.0.1 localhost\n127.0.0.1 cplane cplane.%s.svc.cluster.local\n" % spec["namespace"])
        wlog, dlog = os.path.join(work, "worker.log"), os.path.join(work, "driver.log")
        worker = subprocess.Popen(
            pod_command(tempfile.mkdtemp(dir=work), spec["binary"], spec["worker_args"], sa_dir=sim.sa_dir),
            env=pod_env(spec["worker_env"], sim.port, "cplane-5d8f7c9b4-x2x7q"),
            stdout=open(wlog, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(worker)
        # The driver's projected token (audience cplane): kubesim's client token for cplane-driver.
        tokdir = os.path.join(work, "driver-token")
        os.makedirs(tokdir, exist_ok=True)
        with open(os.path.join(tokdir, "token"), "w") as f:
            f.write(sim.client_token)
        open_service_account(tokdir)
        # Like `kubectl apply -k`: the driver starts alongside, and must wait for the worker itself.
        driver = subprocess.Popen(
            pod_command(tempfile.mkdtemp(dir=work), spec["binary"], spec["driver_args"], hosts_file=hosts,
                        token=(tokdir, spec["driver_token_dir"])),
            env=pod_env(spec["driver_env"], sim.port, "cplane-driver"),
            stdout=open(dlog, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(driver)
        try:
            out["driver_rc"] = driver.wait(spec.get("driver_timeout", 120))
        except subprocess.TimeoutExpired:
            out["driver_rc"] = "timeout"
        # The kubelet's probes and Prometheus, on the ports the manifest declares.
        out["health"] = health(spec["grpc_port"])
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % spec["metrics_port"], timeout=5) as r:
                out["metrics_status"] = r.status
                out["metrics_type"] = r.headers.get("Content-Type", "")
        except OSError as e:
            out["metrics_status"] = str(e)
        st = sim.state()
        out["deployments_left"] = [d["metadata"]["name"] for d in st["deployments"]]
        out["stats"] = st["stats"]
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            t0 = time.time()
            try:
                out["worker_rc"] = worker.wait(spec["grace"])
            except subprocess.TimeoutExpired:
                out["worker_rc"] = "timeout"
            out["worker_stop_s"] = round(time.time() - t0, 3)
        else:
            out["worker_rc"] = "exited early: %s" % worker.returncode
        out["driver_log"] = tail(dlog)
        out["worker_log"] = tail(wlog)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        sim.stop()
    return out


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    with open(sys.argv[1]) as f:
        result = run(json.load(f))
    sys.stdout.write(json.dumps(result) + "\n")
