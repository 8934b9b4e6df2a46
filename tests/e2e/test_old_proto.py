"""A client built on the first cplane.v1 proto (kept in tests/e2e/proto_v1_orig)
keeps working against today's worker: its requests are the very bytes the
current proto writes for the same fields, and every answer parses with the old
messages to what the new ones say.  The old client runs in its own Python
process (protobuf's descriptor pool is process-wide and both files are
cplane/v1/cplane.proto)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from cplane_fixture import POOL, pb2, start_worker
from kubesim_fixture import start_kubesim

HERE = os.path.dirname(os.path.abspath(__file__))

OLD_CLIENT = r'''
import json, sys
import grpc
sys.path.insert(0, sys.argv[1])
from cplane.v1 import cplane_pb2 as pb
from google.protobuf import json_format

target, name = sys.argv[2], sys.argv[3]
auth_md = [("authorization", "Bearer " + sys.argv[4])]   # auth is on: kubesim's client token
out = {"descriptors": {}, "enums": {}, "requests": {}, "answers": {}}
for mname, md in pb.DESCRIPTOR.message_types_by_name.items():
    out["descriptors"][mname] = [[f.name, f.number, f.type, f.label] for f in md.fields]
for ename, ed in pb.DESCRIPTOR.enum_types_by_name.items():
    out["enums"][ename] = {v.name: v.number for v in ed.values}
reqs = {
    "CreateCluster": pb.CreateClusterRequest(name=name, replicas=2),
    "GetCluster": pb.GetClusterRequest(name=name),
    "ListClusters": pb.ListClustersRequest(),
    "DeleteCluster": pb.DeleteClusterRequest(name=name),
}
resp = {"CreateCluster": pb.CreateClusterResponse, "GetCluster": pb.Cluster,
        "ListClusters": pb.ListClustersResponse, "DeleteCluster": pb.DeleteClusterResponse}
ch = grpc.insecure_channel(target)
watch = None
for m in ("CreateCluster", "GetCluster", "ListClusters", "DeleteCluster"):
    data = reqs[m].SerializeToString()
    out["requests"][m] = data.hex()
    if m == "DeleteCluster":
        watch = ch.unary_stream("/cplane.v1.ClusterService/WatchCluster")(
            pb.WatchClusterRequest(name=name).SerializeToString(), timeout=30, metadata=auth_md)
    raw = ch.unary_unary("/cplane.v1.ClusterService/" + m)(data, timeout=30, metadata=auth_md)
    out["answers"][m] = [raw.hex(), json_format.MessageToDict(resp[m].FromString(raw),
                                                             preserving_proto_field_name=True)]
out["watch"] = [[raw.hex(), json_format.MessageToDict(pb.Cluster.FromString(raw),
                                                      preserving_proto_field_name=True)] for raw in watch]
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    if shutil.which("protoc") is None:
        pytest.skip("protoc is not installed (sh scripts/setup.sh)")
    d = tmp_path_factory.mktemp("oldproto")
    out = d / "pb"
    out.mkdir()
    subprocess.run(["protoc", "-I", os.path.join(HERE, "proto_v1_orig"), "--python_out", str(out),
                    "cplane/v1/cplane.proto"], check=True)
    for sub in ("cplane", "cplane/v1"):
        open(os.path.join(str(out), sub, "__init__.py"), "a").close()
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "5", "--node", POOL)
    w = start_worker(sim, d, "--create-timeout", "20s", "--delete-timeout", "20s")
    try:
        p = subprocess.run([sys.executable, "-c", OLD_CLIENT, str(out), w.target, "oldc", sim.client_token],
                           capture_output=True, text=True, timeout=120)
    finally:
        w.stop()
        sim.stop()
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_every_old_field_and_enum_value_is_unchanged(old_run):
    new = pb2()
    for mname, fields in old_run["descriptors"].items():
        nd = new.DESCRIPTOR.message_types_by_name[mname]
        for fname, number, ftype, label in fields:
            g = nd.fields_by_number[number]
            assert [g.name, g.type, g.label] == [fname, ftype, label], (mname, fname)
    for ename, values in old_run["enums"].items():
        nd = new.DESCRIPTOR.enum_types_by_name[ename]
        for vname, number in values.items():
            assert nd.values_by_name[vname].number == number


def test_old_requests_are_the_bytes_the_new_proto_writes(old_run):
    new = pb2()
    same = {
        "CreateCluster": new.CreateClusterRequest(name="oldc", replicas=2),
        "GetCluster": new.GetClusterRequest(name="oldc"),
        "ListClusters": new.ListClustersRequest(),
        "DeleteCluster": new.DeleteClusterRequest(name="oldc"),
    }
    for m, msg in same.items():
        assert old_run["requests"][m] == msg.SerializeToString().hex(), m


def known(d_old, d_new):
    """Every field the old client decoded has the value the new proto decodes."""
    for k, v in d_old.items():
        if isinstance(v, dict):
            known(v, d_new[k])
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            assert len(v) == len(d_new[k])
            for a, b in zip(v, d_new[k]):
                known(a, b)
        else:
            assert d_new[k] == v, k


def test_old_client_gets_every_answer(old_run):
    from google.protobuf import json_format
    new = pb2()
    a = old_run["answers"]
    types = {"CreateCluster": new.CreateClusterResponse, "GetCluster": new.Cluster,
             "ListClusters": new.ListClustersResponse, "DeleteCluster": new.DeleteClusterResponse}
    for m, (raw, old_dict) in a.items():
        n = json_format.MessageToDict(types[m].FromString(bytes.fromhex(raw)), preserving_proto_field_name=True)
        known(old_dict, n)
    created = a["CreateCluster"][1]
    assert created["result"] == "SUCCESS" and created["cluster"]["phase"] == "READY"
    assert created["cluster"]["ready_replicas"] == 2
    assert created["cluster"]["image"] == "registry.k8s.io/pause:3.9"
    assert a["GetCluster"][1]["phase"] == "READY"
    assert [c["name"] for c in a["ListClusters"][1]["clusters"]] == ["oldc"]
    assert a["DeleteCluster"][1]["result"] == "SUCCESS"
    assert old_run["watch"][-1][1]["phase"] == "DELETED"
