"""The driver's richer create, scale and update (DESIGN.md "Richer clusters,
and UpdateCluster"), golden output against the real worker and kubesim."""
import json
import re

import pytest

from cplane_fixture import POOL, start_worker
from kubesim_fixture import start_kubesim
from test_driver import DRIVER_TOKEN, TOKEN_ENV, drv, log, norm_json, norm_log, norm_table

NS_DEPLOY = "/apis/apps/v1/namespaces/%s/deployments"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("drvspec")
    sim = start_kubesim(d / "sim", "--ready-pace-ms", "10", "--node", POOL, "--client-token", DRIVER_TOKEN)
    w = start_worker(sim, d, "--max-replicas", "50", "--create-timeout", "20s")
    yield sim, w
    w.stop()
    sim.stop()


def run(env, *args, **kw):
    return drv(*args, target=env[1].target, **kw)


def test_create_with_the_whole_spec_and_get_json(env):
    sim, w = env
    rc, out, err = run(env, "create", "web", "--replicas", "2", "--cpu", "250m", "--memory", "64Mi",
                       "--env", "MODE=peer", "--env", "URL=http://x/?a=b", "--port", "http:8080",
                       "--port", "peer:7000", "--label", "team=db", "--annotation", "note=hello world",
                       "--service", "--command", "/pause", "--arg", "-v", "--arg", "2")
    assert (rc, out) == (0, ""), err
    assert norm_log(err) == log("Creating cluster", name="web", replicas=2) + \
        log("Created cluster", name="web", replicas=2, took="<dur>")
    code, dep = sim.api("GET", NS_DEPLOY % sim.namespace + "/web")
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    assert ctr["resources"] == {"requests": {"cpu": "250m", "memory": "64Mi"},
                                "limits": {"cpu": "250m", "memory": "64Mi"}}
    assert ctr["env"] == [{"name": "MODE", "value": "peer"}, {"name": "URL", "value": "http://x/?a=b"}]
    assert ctr["command"] == ["/pause"] and ctr["args"] == ["-v", "2"]
    rc, out, err = run(env, "get", "web", "-o", "json")
    assert (rc, err) == (0, "")
    assert norm_json(out) == (
        '{"name":"web","replicas":2,"readyReplicas":2,"phase":"READY","message":"2/2 replicas available",'
        '"image":"registry.k8s.io/pause:3.9","createdUnixMs":"<ts>","updatedReplicas":2,'
        '"resources":{"cpuRequest":"250m","memoryRequest":"64Mi","cpuLimit":"250m","memoryLimit":"64Mi"},'
        '"env":[{"name":"MODE","value":"peer"},{"name":"URL","value":"http://x/?a=b"}],"command":["/pause"],'
        '"args":["-v","2"],"ports":[{"name":"http","port":8080},{"name":"peer","port":7000}],'
        '"labels":{"team":"db"},"annotations":{"note":"hello world"},"serviceDns":"web.%s.svc"}\n'
        % sim.namespace)
    json.loads(out)
    rc, out, err = run(env, "get", "web")
    assert norm_table(out) == ("NAME   REPLICAS   READY   UPDATED   PHASE   AGE\n"
                               "web    2          2       2         READY   <age>\n")


def test_scale_and_update(env):
    sim, w = env
    assert run(env, "create", "sc", "--memory", "32Mi")[0] == 0
    rc, out, err = run(env, "scale", "sc", "--replicas", "4")
    assert (rc, out) == (0, ""), err
    assert norm_log(err) == log("Scaling cluster", name="sc", replicas=4) + \
        log("Updated cluster", name="sc", replicas=4, image='"registry.k8s.io/pause:3.9"', took="<dur>")
    rc, out, err = run(env, "get", "sc")
    assert norm_table(out) == ("NAME   REPLICAS   READY   UPDATED   PHASE   AGE\n"
                               "sc     4          4       4         READY   <age>\n")
    # --cpu alone keeps the memory (a set Resources replaces all four: the driver reads them first)
    rc, out, err = run(env, "update", "sc", "--cpu", "100m", "--image", "registry.k8s.io/pause:3.10", "-o", "json")
    assert rc == 0, err
    assert norm_log(err) == log("Updating cluster", name="sc", image='"registry.k8s.io/pause:3.10"', cpu="100m") + \
        log("Updated cluster", name="sc", replicas=4, image='"registry.k8s.io/pause:3.10"', took="<dur>")
    got = json.loads(out)
    assert got["phase"] == "READY" and got["updatedReplicas"] == 4
    assert got["resources"] == {"cpuRequest": "100m", "memoryRequest": "32Mi", "cpuLimit": "100m",
                                "memoryLimit": "32Mi"}
    code, dep = sim.api("GET", NS_DEPLOY % sim.namespace + "/sc")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.10"


@pytest.mark.parametrize("args,want", [
    (("scale", "x"), "cplane: scale takes NAME --replicas N and nothing else\n"),
    (("scale", "x", "--replicas", "2", "--image", "a:1"), "cplane: scale takes NAME --replicas N and nothing else\n"),
    (("update", "x"), "cplane: update needs --replicas, --image, --cpu or --memory\n"),
    (("update", "x", "--env", "A=1"), "cplane: update changes --replicas, --image, --cpu and --memory only\n"),
    (("create", "x", "--env", "NOEQUALS"), 'cplane: bad value for --env: "NOEQUALS" (want KEY=VALUE)\n'),
    (("create", "x", "--label", "=v"), 'cplane: bad value for --label: "=v" (want KEY=VALUE)\n'),
    (("create", "x", "--port", "8080"), 'cplane: bad value for --port: "8080" (want NAME:PORT)\n'),
    (("create", "x", "--port", "http:eighty"), 'cplane: bad value for --port: "http:eighty" (want NAME:PORT)\n'),
    (("get", "x", "--cpu", "1"), None),
])
def test_bad_usage_is_exit_2(env, args, want):
    rc, out, err = run(env, *args)
    assert (rc, out) == (2, "")
    if want:
        assert err == want
    else:
        assert err.startswith("cplane: --env, --port")


def test_worker_refusals_keep_their_exit_status(env):
    rc, out, err = run(env, "create", "bad", "--port", "HTTP:80")
    assert rc == 13 and out == ""
    assert 'cplane: create: INVALID_ARGUMENT: ports[0].name: "HTTP" is not an IANA service name' in err
    rc, out, err = run(env, "create", "bad", "--cpu", "-1")
    assert rc == 13 and 'resources.cpu_request: "-1" is negative' in err
    rc, out, err = run(env, "scale", "absent", "--replicas", "3")
    assert rc == 15 and err.endswith("cplane: scale: NOT_FOUND: cluster absent not found\n")
    rc, out, err = run(env, "update", "absent", "--cpu", "1")
    assert rc == 15 and err.endswith("cplane: update: NOT_FOUND: cluster absent not found\n")


def test_usage_names_the_new_commands():
    import subprocess
    from cplane_fixture import BIN
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, env={})
    text = p.stdout + p.stderr
    assert "cplane --driver scale NAME --replicas N" in text
    assert "cplane --driver update NAME [--replicas N] [--image REF] [--cpu Q] [--memory Q]" in text
    assert re.search(r"\[--env K=V\]\.\.\. \[--port NAME:PORT\]\.\.\.", text)


def test_scale_shows_live_progress_on_a_terminal(env):
    from test_driver_interop import drv_tty
    sim, w = env
    assert run(env, "create", "tty", "--replicas", "1")[0] == 0
    sim.knobs(ready_pace_ms=60)
    try:
        rc, out, term = drv_tty(w.target, "scale", "tty", "--replicas", "6", env=TOKEN_ENV)
    finally:
        sim.knobs(ready_pace_ms=10)
    assert (rc, out) == (0, ""), term
    assert re.search(r"\rtty: \d/6 updated, \d/6 available \(UPDATING\)", term), term
    assert 'msg="Updated cluster" name=tty replicas=6' in term
