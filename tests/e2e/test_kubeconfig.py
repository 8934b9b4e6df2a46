"""The worker out of cluster from a kubeconfig alone, as kind and minikube write
them: a token, then client certificates with RSA and EC keys (kubesim's CA
issues them and authenticates the user by their CN); $KUBECONFIG naming two
files; --context and the context's namespace; refusals (exec plugin,
insecure-skip-tls-verify, a missing context) as one line and exit 2."""
import os
import subprocess

import pytest

from cplane_fixture import BIN, POOL, Client, Worker, free_port, pb2, wait_port, wait_serving
from kubesim_fixture import start_kubesim

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = start_kubesim(tmp_path_factory.mktemp("kcsim"), "--ready-pace-ms", "10", "--node", POOL,
                      "--client-cert-auth")
    yield s
    s.stop()


def run_worker(tmp_path, *args, env=None):
    port = free_port()
    log_path = os.path.join(str(tmp_path), "worker-%d.log" % port)
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:%d" % port, "--node-selector", POOL] + list(args),
                                stdout=logf, stderr=subprocess.STDOUT, env=env if env is not None else {})
    w = Worker(proc, port, log_path)
    try:
        wait_port(port, 15, proc)
        wait_serving(w.target, 15)
    except Exception:
        w.kill9()
        raise AssertionError("worker did not start:\n" + w.log())
    return w


def create_and_check(sim, w, name, namespace=None):
    if namespace and namespace != sim.namespace:    # RBAC: the client's RoleBinding there too
        sim.auth(add_rules=[{"users": [sim.client_user], "verbs": ["*"], "apiGroups": ["cplane.dev"],
                             "resources": ["clusters"], "namespace": namespace, "names": []}])
    c = Client(w.target, token=sim.client_token)     # auth is on: kubesim's client token
    try:
        r = c.create(name, 1)
        assert r.cluster.phase == pb2().READY
    finally:
        c.close()
    code, obj = sim.api("GET", NS_DEPLOY % (namespace or sim.namespace) + "/" + name)
    assert code == 200, obj


def stats(sim):
    return sim.admin("stats")


@pytest.mark.parametrize("flavour", ["token", "cert-rsa", "cert-ec"])
def test_only_kubeconfig(sim, tmp_path, flavour):
    path = sim.info["kubeconfigs"][flavour]
    before = stats(sim).get("client_cert_requests", 0)
    w = run_worker(tmp_path, "--kubeconfig", path)
    try:
        create_and_check(sim, w, "kc-" + flavour)
        log = w.log()
        assert "Using kubeconfig" in log and path in log and "kind-kubesim" in log
        after = stats(sim).get("client_cert_requests", 0)
        if flavour.startswith("cert"):
            assert after > before        # the API server saw the certificate, not a token
        else:
            assert after == before
    finally:
        assert w.stop() == 0


def test_env_kubeconfig_first_existing_path(sim, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    env = {"KUBECONFIG": missing + ":" + sim.info["kubeconfigs"]["cert-ec"] + ":" + sim.info["kubeconfigs"]["token"]}
    w = run_worker(tmp_path, env=env)
    try:
        create_and_check(sim, w, "kc-env")
        assert sim.info["kubeconfigs"]["cert-ec"] in w.log()
    finally:
        w.stop()


def test_home_kube_config_and_relative_paths(sim, tmp_path):
    """~/.kube/config with the CA and token as files next to it, named relatively."""
    home = tmp_path / "home"
    kube = home / ".kube"
    kube.mkdir(parents=True)
    (kube / "ca.pem").write_bytes(open(sim.info["ca"], "rb").read())
    (kube / "tok").write_text(sim.info["token"] + "\n")
    (kube / "config").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: %s\n"
        "    certificate-authority: ca.pem\ncontexts:\n- name: sim\n  context: {cluster: sim, user: u}\n"
        "current-context: sim\nusers:\n- name: u\n  user:\n    tokenFile: tok\n" % sim.url)
    w = run_worker(tmp_path, env={"HOME": str(home)})
    try:
        create_and_check(sim, w, "kc-home")
    finally:
        w.stop()


def test_context_flag_and_namespace(sim, tmp_path):
    """Two contexts; the current one is an exec plugin user, --context picks the good one and its namespace."""
    text = open(sim.info["kubeconfigs"]["cert-rsa"]).read()
    text = text.replace("current-context: kind-kubesim", "current-context: gke")
    text = text.replace("contexts:\n", "contexts:\n- context:\n    cluster: kind-kubesim\n    user: gke\n"
                        "    namespace: elsewhere\n  name: gke\n"
                        "- context:\n    cluster: kind-kubesim\n    user: kind-kubesim\n"
                        "    namespace: team-a\n  name: team\n", 1)
    text = text.replace("users:\n", "users:\n- name: gke\n  user:\n    exec:\n      apiVersion: "
                        "client.authentication.k8s.io/v1beta1\n      command: gke-gcloud-auth-plugin\n", 1)
    path = tmp_path / "two-contexts.yaml"
    path.write_text(text)
    w = run_worker(tmp_path, "--kubeconfig", str(path), "--context", "team")
    try:
        create_and_check(sim, w, "kc-ctx", namespace="team-a")
    finally:
        w.stop()
    # Its current context: the exec plugin user → one line naming the plugin, exit 2.
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--kubeconfig", str(path)], capture_output=True,
                       text=True, timeout=30, env={})
    assert r.returncode == 2
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "gke-gcloud-auth-plugin" in lines[0] and "kubectl proxy" in lines[0] and "token" in lines[0]


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace("current-context: kind-kubesim", "current-context: gone"), 'context \\"gone\\" not found'),
    (lambda t: t.replace("    server:", "    insecure-skip-tls-verify: true\n    server:"), "insecure-skip-tls-verify"),
    (lambda t: t.replace("  user:\n", "  user:\n    auth-provider:\n      name: oidc\n"), "auth-provider plugin"),
    (lambda t: t.replace("preferences: {}", "preferences:\n\tcolors: true"), "line 15: tab in indentation"),
    (lambda t: t.replace("client-key-data", "client-kex-data"), "client certificate without its key"),
])
def test_refusals_one_line_exit_2(sim, tmp_path, edit, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(open(sim.info["kubeconfigs"]["cert-rsa"]).read()))
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--kubeconfig", str(path)], capture_output=True,
                       text=True, timeout=30, env={})
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert needle in lines[0] and str(path) in lines[0], lines[0]


def test_context_without_kubeconfig(tmp_path):
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--context", "x"], capture_output=True, text=True,
                       timeout=30, env={})
    assert r.returncode == 2
    assert "--context x given, but no kubeconfig found" in r.stdout + r.stderr
