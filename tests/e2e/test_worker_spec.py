"""Richer clusters end to end (DESIGN.md "Richer clusters, and UpdateCluster"):
each new field reaching the Deployment and the headless Service, each
validation rule, Get/List/Watch echoing the whole spec, specs compared by
the cplane.dev/spec-hash annotation across workers and restarts, and Delete
removing the Service."""
import time

import grpc
import pytest

from cplane_fixture import POOL, Client, code_of, pb2, start_worker
from kubesim_fixture import start_kubesim

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"
NS_SVC = "/api/v1/namespaces/%s/services"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "5", "--node", POOL)
    w = start_worker(sim, d, "--create-timeout", "20s", "--delete-timeout", "20s", "--max-replicas", "50")
    c = Client(w.target)
    yield sim, w, c, d
    c.close()
    w.stop()
    sim.stop()


def rich(pb, name, **over):
    kw = dict(name=name, replicas=2, image="registry.k8s.io/pause:3.9",
              resources=pb.Resources(cpu_request="100m", memory_request="64Mi", cpu_limit="0.5",
                                     memory_limit="128Mi"),
              env=[pb.EnvVar(name="MODE", value="peer"), pb.EnvVar(name="LOG_LEVEL", value="debug")],
              command=["/pause"], args=["-v", "2"],
              ports=[pb.Port(name="http", port=8080), pb.Port(name="peer", port=7000)],
              labels={"team": "db", "example.com/tier": "backend"},
              annotations={"note": "hello world", "example.com/owner": "ops@example.com"},
              service=True)
    kw.update(over)
    return pb.CreateClusterRequest(**kw)


def deployment(sim, name):
    code, obj = sim.api("GET", NS_DEPLOY % sim.namespace + "/" + name)
    return obj if code == 200 else None


def service(sim, name):
    code, obj = sim.api("GET", NS_SVC % sim.namespace + "/" + name)
    return obj if code == 200 else None


def test_every_field_reaches_the_deployment_and_the_service(env):
    sim, w, c, _ = env
    pb = pb2()
    r = c._create(rich(pb, "rich"), timeout=30)
    assert r.result == pb.SUCCESS and r.cluster.phase == pb.READY
    dep = deployment(sim, "rich")
    tmpl = dep["spec"]["template"]
    ctr = tmpl["spec"]["containers"][0]
    assert ctr["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"cpu": "0.5", "memory": "128Mi"}}
    assert ctr["env"] == [{"name": "MODE", "value": "peer"}, {"name": "LOG_LEVEL", "value": "debug"}]
    assert ctr["command"] == ["/pause"] and ctr["args"] == ["-v", "2"]
    assert [(p["name"], p["containerPort"], p["protocol"]) for p in ctr["ports"]] == \
        [("http", 8080, "TCP"), ("peer", 7000, "TCP")]
    labels = tmpl["metadata"]["labels"]
    assert labels["team"] == "db" and labels["example.com/tier"] == "backend"
    assert labels["cplane.dev/cluster"] == "rich" and labels["app.kubernetes.io/managed-by"] == "cplane"
    assert tmpl["metadata"]["annotations"] == {"note": "hello world", "example.com/owner": "ops@example.com"}
    ann = dep["metadata"]["annotations"]
    assert len(ann["cplane.dev/spec-hash"]) == 16 and ann["cplane.dev/service"] == "true"

    svc = service(sim, "rich")
    assert svc is not None
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == {"cplane.dev/cluster": "rich"}
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"]) for p in svc["spec"]["ports"]] == [("http", 8080), ("peer", 7000)]
    owner = svc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Deployment", "rich", dep["metadata"]["uid"])
    assert owner["blockOwnerDeletion"] is True

    # Get, List and Watch: the whole spec, the Service's name, updated replicas.
    for got in (c.get("rich"), [x for x in c.list().clusters if x.name == "rich"][0], next(c.watch("rich"))):
        assert got.resources.cpu_request == "100m" and got.resources.memory_limit == "128Mi"
        assert [(e.name, e.value) for e in got.env] == [("MODE", "peer"), ("LOG_LEVEL", "debug")]
        assert list(got.command) == ["/pause"] and list(got.args) == ["-v", "2"]
        assert [(p.name, p.port) for p in got.ports] == [("http", 8080), ("peer", 7000)]
        assert dict(got.labels) == {"team": "db", "example.com/tier": "backend"}
        assert dict(got.annotations) == {"note": "hello world", "example.com/owner": "ops@example.com"}
        assert got.service_dns == "rich.%s.svc" % sim.namespace
        assert got.updated_replicas == 2


def test_plain_cluster_has_no_service_and_empty_spec(env):
    sim, w, c, _ = env
    pb = pb2()
    r = c.create("plain", 1)
    assert r.cluster.phase == pb.READY
    assert service(sim, "plain") is None
    g = c.get("plain")
    assert g.service_dns == "" and len(g.env) == 0 and not g.HasField("resources")
    assert g.updated_replicas == 1


BAD = [
    (dict(resources=None), None),
    (dict(resources="cpu_request=abc"), "resources.cpu_request: \"abc\" is not a Kubernetes quantity"),
    (dict(resources="memory_limit=-1Gi"), "resources.memory_limit: \"-1Gi\" is negative"),
    (dict(resources="cpu_request=2,cpu_limit=1500m"), "resources.cpu_request: \"2\" is above resources.cpu_limit"),
    (dict(env=[("1X", "v")]), "env[0].name: \"1X\" is not a C identifier"),
    (dict(env=[("A", "1"), ("A", "2")]), "env[1].name: \"A\" is also env[0].name"),
    (dict(env=[("V%d" % i, "") for i in range(129)]), "env: 129 entries, at most 128"),
    (dict(ports=[("http", 0)]), "ports[0].port: 0 is not in 1-65535"),
    (dict(ports=[("http", 70000)]), "ports[0].port: 70000 is not in 1-65535"),
    (dict(ports=[("HTTP", 80)]), "ports[0].name: \"HTTP\" is not an IANA service name"),
    (dict(ports=[("a-very-long-name1", 80)]), "is not an IANA service name"),
    (dict(ports=[("http", 80), ("http", 81)]), "ports[1].name: \"http\" is also ports[0].name"),
    (dict(ports=[("p%d" % i, 1000 + i) for i in range(65)]), "ports: 65 entries, at most 64"),
    (dict(labels={"cplane.dev/cluster": "x"}), "key \"cplane.dev/cluster\" is under a prefix cplane keeps"),
    (dict(labels={"app.kubernetes.io/name": "x"}), "is under a prefix cplane keeps"),
    (dict(labels={"team": "a b"}), "value \"a b\" of \"team\" is not a label value"),
    (dict(labels={"k": "v" * 64}), "is not a label value"),
    (dict(labels={"Bad_Prefix.com/k": "v"}), "has a prefix that is not a DNS-1123 subdomain"),
    (dict(annotations={"cplane.dev/spec-hash": "x"}), "annotations[0]: key \"cplane.dev/spec-hash\""),
    (dict(annotations={"a": "x" * (256 * 1024)}), "annotations: 262145 bytes of keys and values"),
    (dict(command=["x"] * 65), "command: 65 entries, at most 64"),
    (dict(args=["x" * 4097]), "args[0]: 4097 bytes, at most 4096"),
    (dict(name="1abc", service=True), "service: the name \"1abc\" must start with a letter"),
]


@pytest.mark.parametrize("over,want", BAD[1:], ids=[w[:40] for _, w in BAD[1:]])
def test_validation_names_the_field_and_the_rule(env, over, want):
    sim, w, c, _ = env
    pb = pb2()
    kw = dict(name=over.pop("name", "bad"), replicas=1)
    for k, v in over.items():
        if k == "resources":
            kw[k] = pb.Resources(**dict(x.split("=") for x in v.split(",")))
        elif k == "env":
            kw[k] = [pb.EnvVar(name=n, value=val) for n, val in v]
        elif k == "ports":
            kw[k] = [pb.Port(name=n, port=p) for n, p in v]
        else:
            kw[k] = v
    before = set(d["metadata"]["name"] for d in sim.api("GET", NS_DEPLOY % sim.namespace)[1]["items"])
    code, details = code_of(c._create, pb.CreateClusterRequest(**kw), timeout=10)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert want in details, details
    after = set(d["metadata"]["name"] for d in sim.api("GET", NS_DEPLOY % sim.namespace)[1]["items"])
    assert after == before       # nothing was sent


def test_same_spec_in_any_map_order_is_idempotent_other_spec_already_exists(env):
    sim, w, c, _ = env
    pb = pb2()
    c._create(rich(pb, "idem"), timeout=30)
    again = rich(pb, "idem", labels={"example.com/tier": "backend", "team": "db"})
    assert c._create(again, timeout=10).result == pb.SUCCESS
    code, details = code_of(c._create, rich(pb, "idem", env=[pb.EnvVar(name="MODE", value="solo")]), timeout=10)
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "another spec (cplane.dev/spec-hash " in details
    code, _ = code_of(c._create, rich(pb, "idem", service=False), timeout=10)
    assert code == grpc.StatusCode.ALREADY_EXISTS


def test_second_worker_compares_specs_by_the_annotation(env):
    sim, w, c, d = env
    pb = pb2()
    c._create(rich(pb, "shared"), timeout=30)
    w2 = start_worker(sim, d, "--create-timeout", "20s")
    c2 = Client(w2.target)
    try:
        r = c2._create(rich(pb, "shared"), timeout=10)
        assert r.result == pb.SUCCESS
        assert [(e.name, e.value) for e in r.cluster.env] == [("MODE", "peer"), ("LOG_LEVEL", "debug")]
        code, _ = code_of(c2._create, rich(pb, "shared", env=[pb.EnvVar(name="OTHER", value="1")]), timeout=10)
        assert code == grpc.StatusCode.ALREADY_EXISTS
        # While the first worker's Create still waits: the same spec is IN_PROGRESS on the second.
        sim.knobs(ready_pace_ms=300)
        first = c._create.future(rich(pb, "shared2", replicas=4), timeout=60)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                if c2.get("shared2").phase == pb.CREATING:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.02)    # polls inside a bounded wait for CREATING
        sim.knobs(controller_paused=True)     # the first Create stays unanswered under the asserts below
        r = c2._create(rich(pb, "shared2", replicas=4), timeout=10)
        assert r.result == pb.IN_PROGRESS and r.cluster.phase == pb.CREATING
        code, _ = code_of(c2._create, rich(pb, "shared2", replicas=4, labels={"team": "web"}), timeout=10)
        assert code == grpc.StatusCode.ALREADY_EXISTS
        sim.knobs(ready_pace_ms=5, controller_paused=False)
        assert first.result(timeout=60).result == pb.SUCCESS
    finally:
        sim.knobs(ready_pace_ms=5, controller_paused=False)
        c2.close()
        w2.stop()


def test_restarted_worker_reads_the_spec_back_from_the_deployment(env, tmp_path):
    sim, w, c, d = env
    pb = pb2()
    c._create(rich(pb, "restart"), timeout=30)
    w2 = start_worker(sim, tmp_path)
    c2 = Client(w2.target)
    try:
        g = c2.get("restart")
        assert g.phase == pb.READY
        assert g.resources.cpu_limit == "0.5"
        assert dict(g.labels) == {"team": "db", "example.com/tier": "backend"}
        assert dict(g.annotations) == {"note": "hello world", "example.com/owner": "ops@example.com"}
        assert [(p.name, p.port) for p in g.ports] == [("http", 8080), ("peer", 7000)]
        assert g.service_dns == "restart.%s.svc" % sim.namespace
        assert c2._create(rich(pb, "restart"), timeout=10).result == pb.SUCCESS
    finally:
        c2.close()
        w2.stop()


def test_delete_removes_the_service_too(env):
    sim, w, c, _ = env
    pb = pb2()
    c._create(rich(pb, "gone"), timeout=30)
    assert service(sim, "gone") is not None
    assert c.delete("gone").result == pb.SUCCESS
    assert deployment(sim, "gone") is None
    assert service(sim, "gone") is None


def test_service_refused_by_rbac_is_permission_denied(env):
    sim, w, c, _ = env
    pb = pb2()
    sim.knobs(deny=["create services"])
    try:
        code, msg = code_of(c._create, rich(pb, "nosvc"), timeout=30)
    finally:
        sim.knobs(deny=[])
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "services" in msg and "create" in msg, msg
    assert deployment(sim, "nosvc") is not None      # left as it is, as after a deadline
    assert service(sim, "nosvc") is None


def test_new_string_fields_go_through_the_request_string_check(env):
    """Embedded NUL or invalid UTF-8 in any new field is refused before anything is sent (raw bytes:
    protobuf's Python runtime will not serialize such strings)."""
    sim, w, c, _ = env

    def f(tag, payload):
        return bytes([tag, len(payload)]) + payload
    raw = c.channel.unary_unary("/cplane.v1.ClusterService/CreateCluster")
    cases = [
        (f(0x2a, f(0x0a, b"A") + f(0x12, b"\xff")), "env.value: not valid UTF-8"),
        (f(0x4a, f(0x0a, b"k") + f(0x12, b"v\x00x")), "labels.value: contains a NUL byte"),
        (f(0x52, f(0x0a, b"k\x00") + f(0x12, b"v")), "annotations.key: contains a NUL byte"),
        (f(0x3a, b"a\x00b"), "args: contains a NUL byte"),
        (f(0x32, b"\xc0\x80"), "command: not valid UTF-8"),
        (f(0x42, f(0x0a, b"h\x00") + b"\x10\x50"), "ports.name: contains a NUL byte"),
        (f(0x22, f(0x0a, b"1\x00")), "resources.cpu_request: contains a NUL byte"),
    ]
    for body, want in cases:
        try:
            raw(f(0x0a, b"rawbad") + body, timeout=10)
            raise AssertionError("accepted: %r" % body)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and want in e.details(), (want, e.details())
    assert deployment(sim, "rawbad") is None
