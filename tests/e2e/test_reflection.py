"""gRPC server reflection through the real worker, as grpcurl uses it: a grpcio
client of ServerReflectionInfo (v1 and v1alpha) lists the services, resolves
symbols to FileDescriptorProtos, and a call built only from those descriptors
succeeds; bad requests get an error_response and the stream goes on."""
import os
import queue
import shutil
import subprocess
import sys
import tempfile

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from cplane_fixture import POOL, ROOT, authorized, start_worker
from kubesim_fixture import start_kubesim

_refl = {}


def refl_pb2():
    """The reflection messages, generated at test time from a renamed copy of the
    repository's .proto (a generated "grpc" package would shadow grpcio's)."""
    if not _refl:
        if shutil.which("protoc") is None:
            pytest.skip("protoc is not installed (sh scripts/setup.sh)")
        out = tempfile.mkdtemp(prefix="cplane-refl-")
        shutil.copy(os.path.join(ROOT, "proto/grpc/reflection/v1/reflection.proto"),
                    os.path.join(out, "cplane_test_reflection.proto"))
        subprocess.run(["protoc", "--proto_path=" + out, "--python_out=" + out,
                        "cplane_test_reflection.proto"], check=True)
        sys.path.insert(0, out)
        import cplane_test_reflection_pb2  # noqa: E402
        _refl["m"] = cplane_test_reflection_pb2
    return _refl["m"]


class ReflectionStream:
    """One ServerReflectionInfo stream: ask() sends a request (message or raw
    bytes) and returns the next response, in order."""

    def __init__(self, target, version="v1"):
        self.m = refl_pb2()
        self.channel = grpc.insecure_channel(target)
        self.requests = queue.Queue()
        call = self.channel.stream_stream(
            "/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version,
            request_serializer=lambda b: b,
            response_deserializer=self.m.ServerReflectionResponse.FromString)
        self.responses = call(iter(self.requests.get, None), timeout=30)

    def ask(self, req):
        self.requests.put(req if isinstance(req, bytes) else req.SerializeToString())
        return next(self.responses)

    def close(self):
        self.requests.put(None)
        rest = list(self.responses)     # half-close: the server ends the stream OK
        self.channel.close()
        return rest


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    d = tmp_path_factory.mktemp("refl")
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "10", "--node", POOL)
    w = start_worker(sim, d, "--create-timeout", "20s")
    yield sim, w
    w.stop()
    sim.stop()


def files_of(resp):
    fds = []
    for blob in resp.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(blob)
        fds.append(fd)
    return fds


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_list_and_resolve(worker, version):
    _, w = worker
    s = ReflectionStream(w.target, version)
    m = s.m
    r = s.ask(m.ServerReflectionRequest(host="x", list_services=""))
    assert r.WhichOneof("message_response") == "list_services_response"
    names = [x.name for x in r.list_services_response.service]
    assert names == sorted(names)
    for svc in ("cplane.v1.ClusterService", "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
        assert svc in names
    assert r.valid_host == "x"
    assert r.original_request.list_services == ""

    for sym in ("cplane.v1.ClusterService", "cplane.v1.Cluster", "cplane.v1.ClusterService.CreateCluster",
                "cplane.v1.Phase"):
        r = s.ask(m.ServerReflectionRequest(file_containing_symbol=sym))
        assert r.WhichOneof("message_response") == "file_descriptor_response", sym
        fds = files_of(r)
        assert fds[0].name == "cplane/v1/cplane.proto"
        assert fds[0].package == "cplane.v1"
    r = s.ask(m.ServerReflectionRequest(file_containing_symbol="grpc.health.v1.HealthCheckResponse.ServingStatus"))
    assert files_of(r)[0].name == "grpc/health/v1/health.proto"

    r = s.ask(m.ServerReflectionRequest(file_by_filename="grpc/reflection/v1alpha/reflection.proto"))
    fd = files_of(r)[0]
    assert [x.name for x in fd.service] == ["ServerReflection"]

    r = s.ask(m.ServerReflectionRequest(file_containing_symbol="cplane.v1.NoSuchThing"))
    assert r.WhichOneof("message_response") == "error_response"
    assert r.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    r = s.ask(m.ServerReflectionRequest(file_by_filename="nope.proto"))
    assert r.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    r = s.ask(m.ServerReflectionRequest(
        file_containing_extension=m.ExtensionRequest(containing_type="cplane.v1.Cluster", extension_number=100)))
    assert r.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    r = s.ask(m.ServerReflectionRequest(all_extension_numbers_of_type="cplane.v1.Cluster"))
    assert r.WhichOneof("message_response") == "all_extension_numbers_response"
    assert r.all_extension_numbers_response.base_type_name == "cplane.v1.Cluster"
    assert list(r.all_extension_numbers_response.extension_number) == []
    assert s.close() == []


def test_malformed_request_keeps_the_stream(worker):
    _, w = worker
    s = ReflectionStream(w.target)
    m = s.m
    r = s.ask(b"\xff\xff\xff")                       # not a protobuf message
    assert r.WhichOneof("message_response") == "error_response"
    assert r.error_response.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    r = s.ask(b"")                                   # a request asking nothing
    assert r.error_response.error_code == grpc.StatusCode.UNIMPLEMENTED.value[0]
    r = s.ask(m.ServerReflectionRequest(list_services="*"))
    assert "cplane.v1.ClusterService" in [x.name for x in r.list_services_response.service]
    assert s.close() == []


def test_dynamic_call_from_descriptors(worker):
    """What grpcurl does: resolve the service, build messages from the returned
    descriptors only, and call CreateCluster then GetCluster."""
    sim, w = worker
    s = ReflectionStream(w.target)
    m = s.m
    pool = descriptor_pool.DescriptorPool()
    r = s.ask(m.ServerReflectionRequest(file_containing_symbol="cplane.v1.ClusterService"))
    for fd in reversed(files_of(r)):                 # imports first
        pool.Add(fd)
    s.close()
    svc = pool.FindServiceByName("cplane.v1.ClusterService")
    factory = message_factory.MessageFactory(pool)

    def call(method_name, **fields):
        md = svc.FindMethodByName(method_name)
        req_cls = factory.GetPrototype(md.input_type)
        resp_cls = factory.GetPrototype(md.output_type)
        ch = grpc.insecure_channel(w.target)
        try:
            return authorized(ch, w.target).unary_unary("/%s/%s" % (svc.full_name, md.name),
                                  request_serializer=req_cls.SerializeToString,
                                  response_deserializer=resp_cls.FromString)(req_cls(**fields), timeout=30)
        finally:
            ch.close()

    resp = call("CreateCluster", name="refl-dyn", replicas=2)
    phase = pool.FindEnumTypeByName("cplane.v1.Phase")
    assert phase.values_by_number[resp.cluster.phase].name == "READY"
    got = call("GetCluster", name="refl-dyn")
    assert got.name == "refl-dyn" and got.replicas == 2
