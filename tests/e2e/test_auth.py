"""Who may call (issue 13): every cplane.v1 call is reviewed by the API server (kubesim) —
TokenReview for who, SubjectAccessReview for may they — through the real worker binary.

kubesim's counters (tokenreviews, subjectaccessreviews_<verb>) show what reached the API server, so the
cache and the sharing of reviews in flight are checked as facts, not timings.
"""

import os
import re
import subprocess
import time
import urllib.request

import grpc
import pytest

from cplane_fixture import BIN, POOL, Client, code_of, deployments, health_check, HEALTH_SERVING, start_worker
from kubesim_fixture import start_kubesim

NS = "default"
DRIVER_USER = "system:serviceaccount:default:cplane-driver"


@pytest.fixture
def sim(tmp_path):
    s = start_kubesim(tmp_path / "sim", "--ready-pace-ms", "5", "--node", POOL)
    yield s
    s.stop()


def stats(sim):
    return sim.admin("stats")


def reviews(sim, kind="tokenreviews"):
    return stats(sim).get(kind, 0)


def add_user(sim, token, username, groups=("devs",), audiences=("cplane",)):
    sim.auth(add_users=[{"token": token, "username": username, "groups": list(groups),
                         "audiences": list(audiences)}])


def allow(sim, user, verbs, names=()):
    sim.auth(add_rules=[{"users": [user], "verbs": list(verbs), "apiGroups": ["cplane.dev"],
                         "resources": ["clusters"], "namespace": NS, "names": list(names)}])


def metrics(w):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % w.metrics_port, timeout=10) as r:
        return r.read().decode()


def metric(text, line_prefix):
    for ln in text.splitlines():
        if ln.startswith(line_prefix + " "):
            return float(ln.split()[-1])
    return None


class Raw:
    """Calls with a given authorization header value (or none), bypassing the fixture's token."""

    def __init__(self, target, header=None):
        self.c = Client(target, token=None)
        self.md = [("authorization", header)] if header is not None else None

    def get(self, name="x", timeout=30):
        return self.c._get(self.c.pb.GetClusterRequest(name=name), timeout=timeout, metadata=self.md)

    def create(self, name, replicas=1, timeout=30):
        return self.c._create(self.c.pb.CreateClusterRequest(name=name, replicas=replicas), timeout=timeout,
                              metadata=self.md)

    def delete(self, name, timeout=30):
        return self.c._delete(self.c.pb.DeleteClusterRequest(name=name), timeout=timeout, metadata=self.md)

    def list(self, timeout=30):
        return self.c._list(self.c.pb.ListClustersRequest(), timeout=timeout, metadata=self.md)

    def watch(self, name, timeout=30):
        return list(self.c._watch(self.c.pb.WatchClusterRequest(name=name), timeout=timeout, metadata=self.md))

    def close(self):
        self.c.close()


def bearer(tok):
    return "Bearer " + tok


# ---- codes and messages -----------------------------------------------------------------------

def test_missing_and_malformed_headers_are_unauthenticated(sim, tmp_path):
    w = start_worker(sim, tmp_path)
    try:
        before = reviews(sim)
        for header, want in [
            (None, "missing bearer token"),
            ("Basic dXNlcjpwYXNz", "missing bearer token: the authorization scheme is not Bearer"),
            ("Bearer", "missing bearer token: the Bearer token is empty"),
            ("Bearer a b", "missing bearer token: the Bearer token has spaces or control characters"),
            ("Bearer " + "a" * (16 * 1024 + 1), "missing bearer token: the Bearer token is longer than 16384 bytes"),
        ]:
            r = Raw(w.target, header)
            assert code_of(r.get) == (grpc.StatusCode.UNAUTHENTICATED, want), header and header[:20]
            r.close()
        assert reviews(sim) == before, "a malformed header never costs a review"
        # Health needs no token (kubelet probes carry none).
        assert health_check(w.target) == HEALTH_SERVING
    finally:
        w.stop()


def test_refused_tokens_quote_the_api_server(sim, tmp_path):
    w = start_worker(sim, tmp_path)
    try:
        r = Raw(w.target, bearer("no-such-token"))
        assert code_of(r.get) == (grpc.StatusCode.UNAUTHENTICATED,
                                  "token rejected: [invalid bearer token, token lookup failed]")
        add_user(sim, "api-aud-token", "bob", audiences=["https://kubernetes.default.svc.cluster.local"])
        r = Raw(w.target, bearer("api-aud-token"))
        code, msg = code_of(r.get)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert msg == ('token rejected: [invalid bearer token, token audiences '
                       '["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences '
                       '["cplane"]]')
        # The worker's own API token (a pod's default token) is refused for audience cplane.
        r = Raw(w.target, bearer(sim.token))
        assert code_of(r.get)[0] == grpc.StatusCode.UNAUTHENTICATED
    finally:
        w.stop()


def test_rbac_decides_per_verb_and_nothing_refused_reaches_the_api(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--create-timeout", "20s", "--delete-timeout", "20s")
    try:
        add_user(sim, "alice-token", "alice")
        allow(sim, "alice", ["get", "list"])
        alice = Raw(w.target, bearer("alice-token"))
        drv = Client(w.target)
        assert drv.create("keep", 1).result == drv.pb.SUCCESS
        code, msg = code_of(alice.create, "web")
        assert (code, msg) == (grpc.StatusCode.PERMISSION_DENIED,
                               'alice may not create clusters.cplane.dev "web" in namespace default')
        assert code_of(alice.delete, "keep") == (
            grpc.StatusCode.PERMISSION_DENIED, 'alice may not delete clusters.cplane.dev "keep" in namespace default')
        assert code_of(alice.watch, "keep") == (
            grpc.StatusCode.PERMISSION_DENIED, 'alice may not watch clusters.cplane.dev "keep" in namespace default')
        # Allowed get but not delete: get answers, delete does not.
        assert alice.get("keep").name == "keep"
        assert [c.name for c in alice.list().clusters] == ["keep"]
        assert code_of(alice.get, "nope")[0] == grpc.StatusCode.NOT_FOUND
        # Nothing alice was refused became a Deployment change.
        assert sorted(deployments(sim)) == ["keep"]
        # Names in RBAC: bob may only touch "bobs".
        add_user(sim, "bob-token", "bob")
        allow(sim, "bob", ["create", "get"], names=["bobs"])
        bob = Raw(w.target, bearer("bob-token"))
        assert code_of(bob.create, "other")[0] == grpc.StatusCode.PERMISSION_DENIED
        assert bob.create("bobs").result == drv.pb.SUCCESS
        assert code_of(bob.list) == (grpc.StatusCode.PERMISSION_DENIED,
                                     "bob may not list clusters.cplane.dev in namespace default")
        # The audit lines: who, what, which cluster, how it ended.
        log = w.log()
        assert re.search(r'msg=audit user="%s" verb=create cluster=keep code=OK' % re.escape(DRIVER_USER), log), log
        assert "msg=audit user=alice verb=create cluster=web code=PERMISSION_DENIED" in log
        assert "msg=audit user=alice verb=delete cluster=keep code=PERMISSION_DENIED" in log
        assert "msg=audit user=bob verb=create cluster=bobs code=OK" in log
        assert "verb=get" not in log and "verb=list" not in log, "reads are not audited"
        drv.delete("keep")
        assert re.search(r'msg=audit user="%s" verb=delete cluster=keep code=OK' % re.escape(DRIVER_USER), w.log())
        alice.close(), bob.close(), drv.close()
    finally:
        w.stop()


# ---- the cache ---------------------------------------------------------------------------------

def test_one_review_per_token_and_verb_for_many_calls(sim, tmp_path):
    w = start_worker(sim, tmp_path, metrics=True)
    try:
        add_user(sim, "many-token", "carol")
        allow(sim, "carol", ["get", "list", "watch"])
        sim.admin("stats/reset")
        c = Raw(w.target, bearer("many-token"))
        for i in range(200):
            assert code_of(c.get, "x")[0] == grpc.StatusCode.NOT_FOUND
        for i in range(20):
            c.list()
        st = stats(sim)
        assert st.get("tokenreviews") == 1, st
        assert st.get("subjectaccessreviews_get") == 1 and st.get("subjectaccessreviews_list") == 1, st
        assert st.get("subjectaccessreviews") == 2, st
        m = metrics(w)
        assert metric(m, 'cplane_auth_reviews_total{kind="token",result="allowed"}') == 1
        assert metric(m, 'cplane_auth_reviews_total{kind="access",result="allowed"}') == 2
        assert metric(m, "cplane_auth_cache_hits_total") >= 2 * 220 - 3
        c.close()
    finally:
        w.stop()


def test_concurrent_calls_with_a_new_token_share_one_review(sim, tmp_path):
    w = start_worker(sim, tmp_path)
    try:
        add_user(sim, "burst-token", "dave")
        allow(sim, "dave", ["get"])
        sim.admin("stats/reset")
        sim.knobs(review_delay_ms=400)     # every review takes 400 ms: the 100 calls all arrive while it is out
        c = Raw(w.target, bearer("burst-token"))
        futs = [c.c._get.future(c.c.pb.GetClusterRequest(name="y"), timeout=60, metadata=c.md) for _ in range(100)]
        codes = []
        for f in futs:
            try:
                f.result()
                codes.append("OK")
            except grpc.RpcError as e:
                codes.append(e.code().name)
        assert codes == ["NOT_FOUND"] * 100
        st = stats(sim)
        assert st.get("tokenreviews") == 1 and st.get("subjectaccessreviews") == 1, st
        c.close()
    finally:
        w.stop()


def test_expired_answers_are_reviewed_again_and_revocation_takes_effect(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--auth-allow-ttl", "1s", "--auth-deny-ttl", "1s")
    try:
        add_user(sim, "short-token", "erin")
        allow(sim, "erin", ["get"])
        sim.admin("stats/reset")
        c = Raw(w.target, bearer("short-token"))
        assert code_of(c.get, "x")[0] == grpc.StatusCode.NOT_FOUND
        assert reviews(sim) == 1
        # Once the answer has aged out, a call makes a new review (and is still allowed).
        sim.wait_for(lambda: code_of(c.get, "x")[0] == grpc.StatusCode.NOT_FOUND and reviews(sim) >= 2,
                     timeout=30, interval=0.2, what="a second TokenReview after the TTL")
        # Revoked in the API server: refused within the TTL.
        sim.auth(revoke=["short-token"])
        sim.wait_for(lambda: code_of(c.get, "x")[0] == grpc.StatusCode.UNAUTHENTICATED, timeout=30,
                     interval=0.2, what="the revoked token refused")
        c.close()
    finally:
        w.stop()


def test_reviews_that_cannot_be_made_are_unavailable_and_not_cached(sim, tmp_path):
    w = start_worker(sim, tmp_path, metrics=True)
    try:
        add_user(sim, "flaky-token", "frank")
        allow(sim, "frank", ["get"])
        sim.auth(unavailable=True)      # 503 on every review; the client retries, then gives up
        c = Raw(w.target, bearer("flaky-token"))
        code, msg = code_of(c.get, "x", timeout=60)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert msg.startswith("cannot review the caller: tokenreviews.authentication.k8s.io: API server error 503"), msg
        assert stats(sim).get("reviews_unavailable", 0) >= 2, "retried before giving up"
        sim.auth(unavailable=False)
        assert code_of(c.get, "x")[0] == grpc.StatusCode.NOT_FOUND, "the failure was not cached"
        assert metric(metrics(w), 'cplane_auth_reviews_total{kind="token",result="error"}') == 1
        # Without system:auth-delegator the worker says what it lacks.
        add_user(sim, "gina-token", "gina")
        sim.auth(delegators=[])
        code, msg = code_of(Raw(w.target, bearer("gina-token")).get, "x", timeout=60)
        assert code == grpc.StatusCode.UNAVAILABLE
        assert "system:auth-delegator" in msg and "tokenreviews.authentication.k8s.io" in msg, msg
        c.close()
    finally:
        w.stop()


# ---- settings -----------------------------------------------------------------------------------

def test_auth_none_warns_and_admits_everyone(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--auth", "none")
    try:
        assert "Authentication is off (--auth none)" in w.log()
        assert "level=warning" in [ln for ln in w.log().splitlines() if "--auth none" in ln][0]
        r = Raw(w.target)
        assert code_of(r.get, "x")[0] == grpc.StatusCode.NOT_FOUND
        assert reviews(sim) == 0
        r.create("anon")
        assert "msg=audit user=- verb=create cluster=anon code=OK" in w.log()
    finally:
        w.stop()


def test_empty_audience_accepts_api_tokens(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--auth-audience", "")
    try:
        # The worker's own API token now authenticates (as system:serviceaccount:default:cplane), and RBAC decides.
        r = Raw(w.target, bearer(sim.token))
        assert code_of(r.get, "x") == (grpc.StatusCode.PERMISSION_DENIED,
                                       'system:serviceaccount:default:cplane may not get clusters.cplane.dev "x" '
                                       'in namespace default')
        # A token made for audience cplane only is not one the API server accepts for itself.
        assert code_of(Raw(w.target, bearer(sim.client_token)).get, "x")[0] == grpc.StatusCode.UNAUTHENTICATED
    finally:
        w.stop()


def test_bad_auth_flag_is_a_usage_error():
    p = subprocess.run([BIN, "--auth", "maybe"], capture_output=True, text=True, timeout=10, env={})
    assert p.returncode == 2 and "--auth" in p.stderr and "want kubernetes or none" in p.stderr


# ---- the driver -------------------------------------------------------------------------------

def run_driver(target, *args, env=None):
    p = subprocess.run([BIN, "--driver", "--target", target] + list(args), env=env or {},
                       capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def test_driver_sends_its_token_and_explains_refusals(sim, tmp_path):
    w = start_worker(sim, tmp_path, "--create-timeout", "20s", "--delete-timeout", "20s")
    try:
        rc, out, err = run_driver(w.target, "--token-file", sim.client_token_file, "create", "drv", "--replicas", "2")
        assert rc == 0, err
        rc, out, err = run_driver(w.target, "delete", "drv", env={"CPLANE_TOKEN_FILE": sim.client_token_file})
        assert rc == 0, err
        assert re.search(r'msg=audit user="%s" verb=create cluster=drv code=OK' % re.escape(DRIVER_USER), w.log())
        # No token at all.
        rc, out, err = run_driver(w.target, "get", "drv")
        assert rc == 10 + 16, err
        assert "cplane: get: UNAUTHENTICATED: missing bearer token" in err
        assert "hint: no token was sent" in err
        # A token the API server does not know, from a file: the hint names the file.
        bad = tmp_path / "bad.token"
        bad.write_text("not-a-known-token\n")
        rc, out, err = run_driver(w.target, "--token-file", str(bad), "list")
        assert rc == 26 and "token rejected" in err and str(bad) in err, err
        # Known but not allowed.
        add_user(sim, "hank-token", "hank")
        rc, out, err = run_driver(w.target, "create", "nope", env={"CPLANE_TOKEN": "hank-token"})
        assert rc == 10 + 7, err
        assert 'PERMISSION_DENIED: hank may not create clusters.cplane.dev "nope" in namespace default' in err
        assert "hint: the token sent came from $CPLANE_TOKEN" in err
        # A token file that cannot be used is a usage error naming it.
        rc, out, err = run_driver(w.target, "--token-file", str(tmp_path / "missing"), "list")
        assert rc == 2 and "cannot read token file" in err, err
        assert "nope" not in deployments(sim)
    finally:
        w.stop()


def test_calls_on_one_connection_keep_their_order_across_reviews(sim, tmp_path):
    """A Create whose review is still out and a Get right behind it on the same connection (its answer
    cached): the Get still sees the Create accepted (CREATING), as it would without the gate."""
    w = start_worker(sim, tmp_path, "--create-timeout", "30s")
    try:
        c = Client(w.target)
        assert code_of(c.get, "ord")[0] == grpc.StatusCode.NOT_FOUND      # get on "ord": reviewed, cached
        sim.knobs(review_delay_ms=300)                                            # the create's review will take 300 ms
        f = c.create_future("ord", 1, timeout=60)
        assert c.get("ord").phase == c.pb.CREATING
        sim.knobs(review_delay_ms=0)
        assert f.result().result == c.pb.SUCCESS
        c.close()
    finally:
        w.stop()


def test_different_tokens_on_one_connection_are_told_apart(sim, tmp_path):
    """The gate remembers what a connection sent last; another token on the same connection is reviewed
    as itself, every time, whichever came before."""
    w = start_worker(sim, tmp_path)
    try:
        add_user(sim, "ivy-token", "ivy")
        allow(sim, "ivy", ["get"])
        add_user(sim, "jon-token", "jon")
        c = Client(w.target, token=None)
        req = c.pb.GetClusterRequest(name="x")
        for i in range(6):
            for tok, want in (("ivy-token", grpc.StatusCode.NOT_FOUND), ("jon-token", grpc.StatusCode.PERMISSION_DENIED),
                              ("nobody", grpc.StatusCode.UNAUTHENTICATED)):
                code, _ = code_of(c._get, req, timeout=30, metadata=[("authorization", bearer(tok))])
                assert code == want, (i, tok, code)
        assert reviews(sim) == 3, "one TokenReview per token (the refused one is cached 10 s)"
        c.close()
    finally:
        w.stop()


def test_long_tokens_differing_in_one_byte_on_one_connection(sim, tmp_path):
    """Projected-token sized values that the HPACK decoder keeps (its Huffman memo, its table) and the
    gate recognises by the decoder's id: tokens that differ only in their last byte, in runs and
    alternating on one connection, are each reviewed and answered as themselves."""
    w = start_worker(sim, tmp_path)
    try:
        base = "eyJhbGciOiJSUzI1NiJ9." + "k" * 960 + "."
        add_user(sim, base + "1", "kim")
        allow(sim, "kim", ["get"])
        add_user(sim, base + "2", "lee")
        c = Client(w.target, token=None)
        req = c.pb.GetClusterRequest(name="x")
        want = {"1": grpc.StatusCode.NOT_FOUND, "2": grpc.StatusCode.PERMISSION_DENIED,
                "3": grpc.StatusCode.UNAUTHENTICATED}
        for last in "1112223331213213":
            code, _ = code_of(c._get, req, timeout=30, metadata=[("authorization", bearer(base + last))])
            assert code == want[last], (last, code)
        assert reviews(sim) == 3, "one TokenReview per token"
        c.close()
    finally:
        w.stop()


def test_long_tokens_on_one_raw_connection_indexed_and_never_indexed(sim, tmp_path):
    """The same as above on one HTTP/2 connection whose HPACK encoder indexes (python-hpack) or sends
    never-indexed Huffman literals: the values the worker's decoder keeps and the gate recognises by
    the decoder's id, not by reading them."""
    import socket
    import struct
    import h2.config
    import h2.connection
    import h2.events
    from hpack import HeaderTuple, NeverIndexedHeaderTuple

    w = start_worker(sim, tmp_path)
    try:
        base = "eyJhbGciOiJSUzI1NiJ9." + "m" * 960 + "."
        add_user(sim, base + "1", "mae")
        allow(sim, "mae", ["get"])
        add_user(sim, base + "2", "ned")
        want = {"1": "5", "2": "7", "3": "16"}      # NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED
        body = b"\x0a\x01x"                         # GetClusterRequest{name: "x"}
        msg = struct.pack(">BI", 0, len(body)) + body
        host, port = w.target.rsplit(":", 1)
        for tup in (HeaderTuple, NeverIndexedHeaderTuple):
            sock = socket.create_connection((host, int(port)), timeout=30)
            conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True,
                                                                               header_encoding="utf-8"))
            conn.initiate_connection()
            try:
                for last in "1112223331213213":
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                            (":path", "/cplane.v1.ClusterService/GetCluster"), (":authority", "t"),
                                            ("content-type", "application/grpc"), ("te", "trailers"),
                                            tup("authorization", "Bearer " + base + last)])
                    conn.send_data(sid, msg, end_stream=True)
                    sock.sendall(conn.data_to_send())
                    status, done = None, False
                    while not done:
                        chunk = sock.recv(65536)
                        assert chunk, "worker closed the connection"
                        for ev in conn.receive_data(chunk):
                            if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                                status = dict(ev.headers).get("grpc-status", status)
                            elif isinstance(ev, h2.events.DataReceived):
                                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)) and ev.stream_id == sid:
                                done = True
                        sock.sendall(conn.data_to_send())
                    assert status == want[last], (tup.__name__, last, status)
            finally:
                sock.close()
        assert reviews(sim) == 3, "one TokenReview per token"
    finally:
        w.stop()


def test_calls_that_end_while_their_review_is_out(sim, tmp_path):
    """A call whose deadline passes while its caller is being reviewed ends DEADLINE_EXCEEDED; the review
    still completes (and is cached), the calls queued behind it on the connection go on, the worker too."""
    w = start_worker(sim, tmp_path, metrics=True)
    try:
        add_user(sim, "slow-token", "kim")
        allow(sim, "kim", ["get", "list"])
        sim.knobs(review_delay_ms=1500)
        c = Raw(w.target, bearer("slow-token"))
        assert code_of(c.get, "x", timeout=0.5)[0] == grpc.StatusCode.DEADLINE_EXCEEDED
        futs = [c.c._list.future(c.c.pb.ListClustersRequest(), timeout=0.3, metadata=c.md) for _ in range(5)]
        for f in futs:
            try:
                f.result()
                raise AssertionError("answered within 0.3 s while the review takes 1.5 s")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        sim.knobs(review_delay_ms=0)
        sim.wait_for(lambda: metric(metrics(w), 'cplane_auth_reviews_total{kind="token",result="allowed"}') == 1,
                     timeout=30, what="the token review answered after its callers left")
        assert code_of(c.get, "x")[0] == grpc.StatusCode.NOT_FOUND
        assert len(c.list().clusters) == 0
        assert health_check(w.target) == HEALTH_SERVING
        c.close()
    finally:
        assert w.stop() == 0
