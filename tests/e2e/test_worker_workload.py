"""What callers can make the worker run: --allowed-images and the hardened pod template, end to end
against kubesim (DESIGN.md "Security": what callers can make run)."""

import subprocess

import grpc

from cplane_fixture import BIN, K8S, Client, deployments, free_port, sim, start_worker  # noqa: F401  (sim: fixture)


def test_image_outside_allowed_images_is_refused_and_nothing_is_sent(sim, tmp_path):
    w = start_worker(sim, tmp_path, '--allowed-images', 'registry.k8s.io,ghcr.io/org/', '--create-timeout', '20s',
                     metrics=True)
    c = Client(w.target)
    try:
        creates = w.metric(K8S('create', 201))
        for image in ('registry.k8s.io.evil/x:1', 'docker.io/library/nginx', 'ghcr.io/orgevil/app:1'):
            try:
                c.create('denied', 1, image=image)
                raise AssertionError('created with ' + image)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e
                assert e.details() == ('image "%s" is not allowed (allowed image prefixes: registry.k8s.io, '
                                       'ghcr.io/org/)' % image)
        assert 'denied' not in deployments(sim)
        assert w.metric(K8S('create', 201)) == creates     # no POST of any kind for a refused call
        # admitted: the default image, and one under an allowed path prefix
        assert c.create('allowed', 1).cluster.ready_replicas == 1
        assert c.create('allowed2', 1, image='ghcr.io/org/app:1').cluster.ready_replicas == 1
        assert set(deployments(sim)) == {'allowed', 'allowed2'}
        # an Update to an image outside the list: refused the same way, the Deployment untouched
        pb = c.pb
        update = c.channel.unary_unary('/cplane.v1.ClusterService/UpdateCluster',
                                       request_serializer=pb.UpdateClusterRequest.SerializeToString,
                                       response_deserializer=pb.UpdateClusterResponse.FromString)
        try:
            update(pb.UpdateClusterRequest(name='allowed', image='registry.k8s.io.evil/x:2'), timeout=20)
            raise AssertionError('updated to a refused image')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e
            assert 'registry.k8s.io.evil/x:2' in e.details()
        ctr = deployments(sim)['allowed']['spec']['template']['spec']['containers'][0]
        assert ctr['image'] == 'registry.k8s.io/pause:3.9'
    finally:
        c.close()
        assert w.stop() == 0


def test_default_image_must_be_allowed(sim):
    out = subprocess.run([BIN, '--listen', '127.0.0.1:%d' % free_port(), '--apiserver', sim.url,
                          '--allowed-images', 'ghcr.io/org/'], capture_output=True, text=True, timeout=30, env={})
    assert out.returncode == 2
    assert out.stderr == ('cplane: --image registry.k8s.io/pause:3.9 is not in --allowed-images ghcr.io/org/\n')
    out = subprocess.run([BIN, '--allowed-images', 'a.io,,b.io'], capture_output=True, text=True, timeout=30,
                         env={})
    assert out.returncode == 2 and 'empty prefix' in out.stderr and out.stderr.count('\n') == 1


def test_created_deployment_is_hardened(sim, tmp_path):
    w = start_worker(sim, tmp_path, '--create-timeout', '20s')
    c = Client(w.target)
    try:
        c.create('hard', 2)
        d = deployments(sim)['hard']
        pod = d['spec']['template']['spec']
        assert pod['automountServiceAccountToken'] is False
        for ctr in pod['containers']:
            sc = ctr['securityContext']
            assert sc['allowPrivilegeEscalation'] is False
            assert sc['capabilities'] == {'drop': ['ALL']}
            assert sc['seccompProfile'] == {'type': 'RuntimeDefault'}
    finally:
        c.close()
        assert w.stop() == 0
