"""deploy/, Dockerfile.scratch and the daemon-less image (issue 9).

The manifests are rendered offline with `kubectl kustomize` and the objects
checked for the properties docs/deploy.md promises: least-privilege namespaced
RBAC, hardened pods, native gRPC probes, one image name everywhere, and no
namespace of their own. The image is built from build/cplane by scripts/oci.sh
into a temporary directory and read back from its OCI layout and its
docker-archive with nothing but json, gzip and tarfile.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_pod_sim import snapshot_binary  # noqa: E402

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (sh scripts/setup.sh)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BUILT = os.path.join(ROOT, "build", "cplane")
OCI_SH = os.path.join(ROOT, "scripts", "oci.sh")
VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
IMAGE = "cplane:" + VERSION

# DESIGN.md "Operations": the worker's flags. A manifest arg outside this set
# is a typo the worker would reject with exit 2 in a crash loop.
WORKER_FLAGS = {
    "--listen", "--metrics-addr", "--namespace", "--image", "--node-selector",
    "--create-timeout", "--delete-timeout", "--max-replicas", "--log-format",
    "--log-level", "--apiserver", "--token-file", "--ca-file", "--shutdown-grace",
}
NODE_SELECTOR = "cplane.dev/pool=subtask-topology-aware"


# ---- rendering ------------------------------------------------------------------

def kustomize(path):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: cannot render deploy/ with `kubectl kustomize`")
    p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "kubectl kustomize %s failed:\n%s" % (path, p.stderr)
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def overlay(tmp_path, body):
    """A copy of deploy/ as a base under an overlay kustomization (kustomize
    refuses absolute paths to bases, so the base must sit beside it)."""
    shutil.copytree(DEPLOY, str(tmp_path / "base"))
    ov = tmp_path / "overlay"
    ov.mkdir()
    (ov / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - ../base\n" + body)
    return kustomize(str(ov))


@pytest.fixture(scope="module")
def objs():
    return kustomize(DEPLOY)


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, "want exactly one %s %s, got %d" % (kind, name or "", len(found))
    return found[0]


def pod_specs(objs):
    """(owner description, pod spec) for every pod the manifests would run."""
    out = []
    for o in objs:
        if o["kind"] == "Pod":
            out.append(("Pod/" + o["metadata"]["name"], o["spec"]))
        elif o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((o["kind"] + "/" + o["metadata"]["name"], o["spec"]["template"]["spec"]))
    return out


def containers(objs):
    for owner, spec in pod_specs(objs):
        for c in spec.get("initContainers", []) + spec["containers"]:
            yield owner, spec, c


def worker(objs):
    d = one(objs, "Deployment")
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return d, c


def driver(objs):
    p = one(objs, "Pod")
    (c,) = p["spec"]["containers"]
    return p, c


# ---- manifests --------------------------------------------------------------------

def test_renders_the_expected_objects(objs):
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(["ServiceAccount", "Role", "RoleBinding", "Service", "Deployment", "Pod",
                            "ClusterRoleBinding", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"])
    for o in objs:
        assert o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "cplane", o["kind"]


def test_namespace_agnostic(objs):
    for o in objs:
        assert "namespace" not in o["metadata"], "%s/%s names a namespace" % (o["kind"], o["metadata"]["name"])
    for rb in (o for o in objs if o["kind"] == "RoleBinding"):
        for s in rb["subjects"]:
            assert "namespace" not in s, "RoleBinding subject pins a namespace"
    # Not even in a comment-free corner of the sources.  The exception: a
    # ClusterRoleBinding's subject must name one (kustomize's namespace: moves it).
    for name in os.listdir(DEPLOY):
        if name == "auth-delegator.yaml":
            continue
        for line in open(os.path.join(DEPLOY, name)):
            code = line.split("#", 1)[0]
            assert "namespace:" not in code, "%s: %s" % (name, line.strip())
            assert "default" not in code.split(), "%s: %s" % (name, line.strip())


def test_namespace_override(tmp_path):
    objs = overlay(tmp_path, "namespace: other-ns\n")
    assert len(objs) == 11
    for o in objs:
        if o["kind"] != "ClusterRoleBinding":
            assert o["metadata"].get("namespace") == "other-ns", "%s not moved" % o["kind"]
    for rb in (o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        (s,) = rb["subjects"]
        assert s.get("namespace", "other-ns") == "other-ns", rb["metadata"]["name"]


def test_rbac_is_exactly_what_the_worker_calls(objs):
    assert not [o for o in objs if o["kind"] == "ClusterRole"], "no ClusterRole of our own"
    role = one(objs, "Role", "cplane")
    got = {}
    for r in role["rules"]:
        assert set(r) == {"apiGroups", "resources", "verbs"}, "unexpected rule fields %s" % sorted(r)
        for g in r["apiGroups"]:
            for res in r["resources"]:
                assert (g, res) not in got, "rule for %s/%s repeated" % (g, res)
                got[(g, res)] = sorted(r["verbs"])
    assert got == {
        ("apps", "deployments"): sorted(["get", "list", "watch", "create", "delete", "patch"]),
        ("", "pods"): sorted(["get", "list"]),
        ("", "services"): sorted(["create"]),
        ("apps", "deployments/finalizers"): ["update"],   # blockOwnerDeletion on the Service's owner
        ("", "events"): sorted(["create", "patch"]),
    }
    for verbs in got.values():
        assert len(set(verbs)) == len(verbs)

    sa = one(objs, "ServiceAccount", "cplane")
    rb = one(objs, "RoleBinding", "cplane")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                             "name": role["metadata"]["name"]}
    assert [(s["kind"], s["name"]) for s in rb["subjects"]] == [("ServiceAccount", sa["metadata"]["name"])]
    d, _ = worker(objs)
    spec = d["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    # Only the worker's pod gets the token; any other pod using the account does not.
    assert sa.get("automountServiceAccountToken") is False
    assert spec.get("automountServiceAccountToken") is True, "the worker needs its token"


def test_the_one_cluster_scoped_object_is_the_auth_delegator_binding(objs):
    """TokenReview + SubjectAccessReview need system:auth-delegator; nothing else is cluster-wide."""
    (crb,) = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "system:auth-delegator"}
    assert [(s["kind"], s["name"]) for s in crb["subjects"]] == [("ServiceAccount", "cplane")]
    assert crb["subjects"][0]["namespace"] == "default"    # kustomize's namespace: rewrites it
    namespaced = {"ServiceAccount", "Role", "RoleBinding", "Service", "Deployment", "Pod", "NetworkPolicy"}
    assert {o["kind"] for o in objs} - namespaced == {"ClusterRoleBinding"}


def test_client_role_has_exactly_the_cplane_verbs(objs):
    role = one(objs, "Role", "cplane-client")
    (rule,) = role["rules"]
    assert rule["apiGroups"] == ["cplane.dev"] and rule["resources"] == ["clusters"]
    assert sorted(rule["verbs"]) == sorted(["create", "update", "delete", "get", "list", "watch"])
    assert len(set(rule["verbs"])) == len(rule["verbs"])
    rb = one(objs, "RoleBinding", "cplane-client")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cplane-client"}
    assert [(s["kind"], s["name"]) for s in rb["subjects"]] == [("ServiceAccount", "cplane-driver")]
    sa = one(objs, "ServiceAccount", "cplane-driver")
    assert sa.get("automountServiceAccountToken") is False


def test_driver_gets_a_projected_token_for_audience_cplane(objs):
    p, c = driver(objs)
    spec = p["spec"]
    assert spec["serviceAccountName"] == "cplane-driver"
    assert spec["automountServiceAccountToken"] is False, "no API-server token"
    (vol,) = spec["volumes"]
    (src,) = vol["projected"]["sources"]
    tok = src["serviceAccountToken"]
    assert tok == {"audience": "cplane", "expirationSeconds": 3600, "path": "token"}
    (mnt,) = c["volumeMounts"]
    assert mnt == {"name": vol["name"], "mountPath": "/var/run/secrets/cplane", "readOnly": True}


def test_every_container_is_hardened(objs):
    seen = 0
    for owner, spec, c in containers(objs):
        seen += 1
        where = "%s container %s" % (owner, c["name"])
        pod = spec.get("securityContext", {})
        sc = c.get("securityContext", {})

        def eff(key):
            return sc.get(key, pod.get(key))

        assert eff("runAsNonRoot") is True, where
        assert eff("runAsUser") == 65532, where
        assert eff("runAsGroup") == 65532, where
        assert (eff("seccompProfile") or {}).get("type") == "RuntimeDefault", where
        assert sc.get("readOnlyRootFilesystem") is True, where
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("privileged", False) is False, where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not sc.get("capabilities", {}).get("add"), where
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host), "%s: %s" % (where, host)
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], where
        assert spec.get("enableServiceLinks") is False, \
            "%s: service links would inject CPLANE_* variables, read as flags" % where

        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            assert set(res.get(kind, {})) >= {"cpu", "memory"}, "%s: %s" % (where, kind)
        assert res["requests"] == {"cpu": "10m", "memory": "8Mi"}, where
        assert res["limits"] == {"cpu": "200m", "memory": "64Mi"}, where
    assert seen == 2


def test_worker_probes_are_grpc_on_the_health_service(objs):
    _, c = worker(objs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"grpc": 50051, "metrics": 8080}
    for p in c["ports"]:
        assert p.get("protocol", "TCP") == "TCP"
    for probe in ("livenessProbe", "readinessProbe"):
        assert probe in c, probe
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe not in c:
            continue
        pr = c[probe]
        for other in ("httpGet", "tcpSocket", "exec"):
            assert other not in pr, "%s uses %s" % (probe, other)
        assert pr["grpc"]["port"] == 50051, probe
        # The overall server health ("" service): SERVING once synced.
        assert pr["grpc"].get("service", "") == "", probe


def test_worker_args(objs):
    d, c = worker(objs)
    assert d["spec"]["replicas"] == 1
    args = c["args"]
    assert "command" not in c, "the image's ENTRYPOINT is the binary"
    for a in args:
        assert a.startswith("--") and "=" in a, "use --flag=value form: %r" % a
        assert a.split("=", 1)[0] in WORKER_FLAGS, "not a worker flag: %r" % a
    kv = dict(a.split("=", 1) for a in args)
    assert kv["--node-selector"] == NODE_SELECTOR
    assert kv["--metrics-addr"] == ":8080"
    assert kv.get("--listen", ":50051") == ":50051"
    assert "--namespace" not in kv, "the namespace comes from the service account"
    grace = kv.get("--shutdown-grace", "20s")
    assert grace.endswith("s") and int(grace[:-1]) < d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


def test_headless_service(objs):
    svc = one(objs, "Service")
    assert svc["metadata"]["name"] == "cplane"
    assert svc["spec"]["clusterIP"] == "None"
    (port,) = svc["spec"]["ports"]
    assert port["name"] == "grpc" and port["port"] == 50051
    assert port.get("targetPort") in ("grpc", 50051, None)
    sel = svc["spec"]["selector"]
    d, _ = worker(objs)
    wl = d["spec"]["template"]["metadata"]["labels"]
    assert all(wl.get(k) == v for k, v in sel.items()), "service must select the worker"
    assert d["spec"]["selector"]["matchLabels"].items() <= wl.items()
    p, _ = driver(objs)
    dl = p["metadata"].get("labels", {})
    assert not all(dl.get(k) == v for k, v in sel.items()), "service must not select the driver"


def test_driver_pod(objs):
    p, c = driver(objs)
    spec = p["spec"]
    assert p["metadata"]["name"] == "cplane-driver"
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert c["args"] == ["--driver"]
    assert "command" not in c
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    target = env["CPLANE_TARGET"]
    host, port = target.rsplit(":", 1)
    assert port == "50051"
    assert host == "cplane" or host.startswith("cplane."), target
    assert "default" not in host.split("."), "target must not pin a namespace"
    assert not c.get("ports"), "the driver serves nothing"


def test_images_are_the_one_make_oci_builds(objs):
    for owner, _, c in containers(objs):
        assert c["image"] == IMAGE, "%s: %s != %s (kustomization newTag must follow VERSION)" % (
            owner, c["image"], IMAGE)
        # A tag that is not `latest` defaults to IfNotPresent; say it anyway,
        # so an image loaded into kind/minikube is used and never pulled.
        assert c.get("imagePullPolicy") == "IfNotPresent", owner


def test_image_override(tmp_path):
    objs = overlay(tmp_path, "images:\n  - name: cplane\n    newName: registry.example/team/cplane\n"
                             "    newTag: \"9.9.9\"\n")
    imgs = {c["image"] for _, _, c in containers(objs)}
    assert imgs == {"registry.example/team/cplane:9.9.9"}


# ---- Dockerfile.scratch and make's targets ---------------------------------------------

def test_dockerfile_scratch():
    lines = [l.strip() for l in open(os.path.join(ROOT, "Dockerfile.scratch"))
             if l.strip() and not l.lstrip().startswith("#")]
    froms = [l for l in lines if l.startswith("FROM ")]
    assert froms[0].startswith("FROM debian:bookworm")
    assert froms[-1] == "FROM scratch" and len(froms) == 2
    text = "\n".join(lines)
    assert "sh scripts/setup.sh" in text and "make" in text
    final = text[text.index("FROM scratch"):]
    assert "COPY --from=build /src/build/cplane /cplane" in final
    assert "USER 65532:65532" in final
    assert 'ENTRYPOINT ["/cplane"]' in final
    for label in ("source", "version", "licenses"):
        assert "org.opencontainers.image.%s=" % label in final
    # The host's build/ must not leak into the build stage.
    ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
    assert "build/" in ignore


def test_make_image_without_an_engine_says_what_to_do(tmp_path):
    image_sh = os.path.join(ROOT, "scripts", "image.sh")
    args = ["sh", image_sh, IMAGE, VERSION, "c0ffee", "unknown"]
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % tmp_path)
    # No docker anywhere on PATH... (/usr/local/bin is where a docker CLI lives here)
    if os.path.exists("/usr/bin/docker") or os.path.exists("/bin/docker"):
        pytest.skip("a docker CLI is installed in /usr/bin; cannot hide it")
    p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "docker is not installed" in p.stderr and "make oci" in p.stderr
    # ... and a CLI whose engine does not answer.
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "not reachable" in p.stderr and "make oci" in p.stderr


def test_makefile_targets():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-n", "-o", "build/cplane", "oci"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    assert "scripts/oci.sh build/cplane build" in p.stdout
    assert "IMAGE_TAG='%s'" % VERSION in p.stdout


# ---- the image from scripts/oci.sh ------------------------------------------------------

def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_oci(out, epoch="1700000000"):
    for tool in ("umoci", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed (sh scripts/setup.sh)" % tool)
    binary = snapshot_binary(BUILT)
    if binary is None:
        pytest.skip("build/cplane is missing (make)")
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch, IMAGE_SOURCE="https://example.invalid/cplane",
               IMAGE_NAME="cplane", IMAGE_TAG=VERSION)
    p = subprocess.run(["sh", OCI_SH, binary, str(out)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


class Layout:
    def __init__(self, root):
        self.root = root

    def blob(self, digest):
        algo, hexd = digest.split(":", 1)
        data = open(os.path.join(self.root, "blobs", algo, hexd), "rb").read()
        assert sha256(data) == digest, "blob content does not match its digest"
        return data

    def json_blob(self, desc):
        data = self.blob(desc["digest"])
        assert len(data) == desc["size"]
        return json.loads(data)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build_oci(tmp_path_factory.mktemp("oci"))


@pytest.fixture(scope="module")
def oci(image):
    lay = Layout(str(image / "oci"))
    assert json.load(open(os.path.join(lay.root, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
    index = json.load(open(os.path.join(lay.root, "index.json")))
    (desc,) = index["manifests"]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == VERSION
    manifest = lay.json_blob(desc)
    config = lay.json_blob(manifest["config"])
    return lay, manifest, config


def layer_members(tar_bytes):
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        return [(m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()]


def check_one_file(tar_bytes):
    members = layer_members(tar_bytes)
    assert len(members) == 1, "layer holds %s" % [m.name for m, _ in members]
    (m, data), = members
    assert m.name.lstrip("./") == "cplane" and m.isfile()
    assert m.mode & 0o7777 == 0o755
    assert (m.uid, m.gid) == (0, 0), "owned by root, so the 65532 user cannot rewrite it"
    assert data == open(snapshot_binary(BUILT), "rb").read()


def test_oci_manifest_has_one_layer_with_one_file(oci):
    lay, manifest, config = oci
    assert manifest["schemaVersion"] == 2
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    gz = lay.blob(layer["digest"])
    assert len(gz) == layer["size"]
    raw = gzip.decompress(gz)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256(raw)]}
    check_one_file(raw)


def test_oci_config(oci):
    _, _, config = oci
    assert config["os"] == "linux"
    assert config["architecture"] in ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
    c = config["config"]
    assert c["Entrypoint"] == ["/cplane"]
    assert not c.get("Cmd"), "arguments come from the pod spec"
    assert not c.get("Env"), "a scratch image needs no PATH"
    assert c["User"] == "65532:65532"
    labels = c["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"] == "https://example.invalid/cplane"
    assert labels["org.opencontainers.image.title"] == "cplane"
    assert set(c.get("ExposedPorts", {})) == {"50051/tcp", "8080/tcp"}
    assert [h.get("empty_layer", False) for h in config["history"]] == [False]
    assert config["created"] == "2023-11-14T22:13:20Z"


def test_docker_archive(image, oci):
    _, _, config = oci
    with tarfile.open(str(image / "cplane-image.tar")) as tf:
        files = {m.name: m for m in tf.getmembers()}
        (entry,) = json.load(tf.extractfile("manifest.json"))
        tags = entry["RepoTags"]
        assert tags and tags[0] in (IMAGE, "docker.io/library/" + IMAGE), tags
        cfg = json.load(tf.extractfile(entry["Config"]))
        assert cfg["config"]["Entrypoint"] == ["/cplane"]
        assert cfg["config"]["User"] == "65532:65532"
        assert cfg["rootfs"] == config["rootfs"]
        (layer,) = entry["Layers"]
        m = files[layer]
        if m.issym():
            m = files[os.path.normpath(os.path.join(os.path.dirname(layer), m.linkname))]
        raw = tf.extractfile(m).read()
    check_one_file(raw)


def test_oci_is_reproducible(image, oci, tmp_path):
    again = build_oci(tmp_path)
    a = json.load(open(str(image / "oci" / "index.json")))["manifests"][0]["digest"]
    b = json.load(open(str(again / "oci" / "index.json")))["manifests"][0]["digest"]
    assert a == b, "same binary, same SOURCE_DATE_EPOCH, different manifest"


def test_oci_refuses_a_dynamic_binary(tmp_path):
    dyn = shutil.which("true")
    p = subprocess.run(["sh", OCI_SH, dyn, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "not a static binary" in p.stderr
    assert not os.path.exists(str(tmp_path / "oci"))


def test_docs_overlay_example_renders(tmp_path):
    """docs/deploy.md's overlay example works as printed."""
    import re
    text = open(os.path.join(ROOT, "docs", "deploy.md")).read()
    m = re.search(r"# my-overlay/kustomization.yaml\n(.*?)```", text, re.S)
    assert m, "docs/deploy.md lost its overlay example"
    shutil.copytree(DEPLOY, str(tmp_path / "deploy"))
    (tmp_path / "my-overlay").mkdir()
    (tmp_path / "my-overlay" / "kustomization.yaml").write_text(m.group(1))
    objs = kustomize(str(tmp_path / "my-overlay"))
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] != "ClusterRoleBinding"} == {"cplane-prod"}
    (crb,) = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
    assert crb["subjects"][0]["namespace"] == "cplane-prod"
    assert {c["image"] for _, _, c in containers(objs)} == {"registry.example.com/platform/cplane:0.1.0"}
    _, c = worker(objs)
    assert c["args"][-1] == "--create-timeout=10m"


def test_image_runs_as_its_user(oci, tmp_path):
    """The layer unpacked as a root filesystem runs its entrypoint as its user."""
    if os.geteuid() != 0 or shutil.which("chroot") is None:
        pytest.skip("needs root and chroot(8)")
    lay, manifest, config = oci
    root = tmp_path / "rootfs"
    root.mkdir()
    root.chmod(0o755)   # it becomes "/" for user 65532
    raw = gzip.decompress(lay.blob(manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for m in tf.getmembers():
            assert m.isfile() and "/" not in m.name.lstrip("./")
            tf.extract(m, str(root), set_attrs=True)
    user = config["config"]["User"]
    cmd = [shutil.which("chroot"), "--userspec=" + user, "--groups=" + user.split(":")[1], str(root)]
    cmd += config["config"]["Entrypoint"] + ["--version"]
    p = subprocess.run(cmd, capture_output=True, text=True, env={}, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("cplane %s " % VERSION)


def selects(selector, labels):
    """A label selector's matchLabels/matchExpressions (In, Exists) against labels."""
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions", []):
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
        if e["operator"] == "Exists" and e["key"] not in labels:
            return False
    return True


def test_network_policy_admits_only_clients_to_grpc(objs):
    np = one(objs, "NetworkPolicy")
    spec = np["spec"]
    worker = one(objs, "Deployment")
    wlabels = worker["spec"]["template"]["metadata"]["labels"]
    assert selects(spec["podSelector"], wlabels), "the policy must select the worker's pods"
    assert not selects(spec["podSelector"], driver(objs)[0]["metadata"]["labels"]), "not the driver"
    assert spec["policyTypes"] == ["Ingress"]
    ports = {p["name"]: p["containerPort"] for p in worker["spec"]["template"]["spec"]["containers"][0]["ports"]}
    rules = {}
    for rule in spec["ingress"]:
        for p in rule["ports"]:
            rules[p["port"]] = rule["from"]
    assert set(rules) == {ports["grpc"], ports["metrics"]}
    (grpc_from,) = rules[ports["grpc"]]
    assert set(grpc_from) == {"podSelector"}, "gRPC from pods of this namespace only"
    client = {"cplane.dev/client": "true"}
    assert selects(grpc_from["podSelector"], client)
    assert not selects(grpc_from["podSelector"], {"app": "other"})
    assert not selects(grpc_from["podSelector"], {"cplane.dev/client": "false"})
    # the driver carries the label, so the demo still reaches the worker
    assert selects(grpc_from["podSelector"], driver(objs)[0]["metadata"]["labels"])
    # metrics: any pod in the namespace
    (metrics_from,) = rules[ports["metrics"]]
    assert metrics_from == {"podSelector": {}}
