"""kubesim's TokenReview and SubjectAccessReview answer as kube-apiserver does (kubesim_auth.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim_fixture import kubesim  # noqa: E402,F401

TR = '/apis/authentication.k8s.io/v1/tokenreviews'
SAR = '/apis/authorization.k8s.io/v1/subjectaccessreviews'


def token_review(sim, token, audiences=None):
    spec = {'token': token}
    if audiences is not None:
        spec['audiences'] = audiences
    return sim.api('POST', TR, {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'TokenReview', 'spec': spec})


def access_review(sim, user, verb, name='', groups=None, ns='default'):
    ra = {'namespace': ns, 'verb': verb, 'group': 'cplane.dev', 'resource': 'clusters'}
    if name:
        ra['name'] = name
    spec = {'user': user, 'resourceAttributes': ra}
    if groups:
        spec['groups'] = groups
    return sim.api('POST', SAR, {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SubjectAccessReview',
                                 'spec': spec})


def test_token_review_answers(kubesim):
    code, r = token_review(kubesim, kubesim.client_token, ['cplane'])
    assert code == 201 and r['kind'] == 'TokenReview'
    st = r['status']
    assert st['authenticated'] is True
    assert st['user']['username'] == kubesim.client_user == 'system:serviceaccount:default:cplane-driver'
    assert 'system:authenticated' in st['user']['groups'] and st['user']['uid']
    assert st['audiences'] == ['cplane']
    with open(kubesim.client_token_file) as f:
        assert f.read() == kubesim.client_token
    # Wrong audience, unknown token: no `authenticated`, an error in the apiserver's words.
    code, r = token_review(kubesim, kubesim.client_token, ['other'])
    assert code == 201 and 'authenticated' not in r['status'] and r['status']['user'] == {}
    assert 'token audiences ["cplane"] is invalid for the target audiences ["other"]' in r['status']['error']
    code, r = token_review(kubesim, 'nope', ['cplane'])
    assert r['status']['error'] == '[invalid bearer token, token lookup failed]'
    # The API token: valid without audiences (the apiserver's own), refused for cplane.
    code, r = token_review(kubesim, kubesim.token)
    assert r['status']['authenticated'] is True
    assert r['status']['user']['username'] == 'system:serviceaccount:default:cplane'
    code, r = token_review(kubesim, kubesim.token, ['cplane'])
    assert 'authenticated' not in r['status']


def test_access_review_rules_and_counters(kubesim):
    kubesim.admin('stats/reset')
    code, r = access_review(kubesim, kubesim.client_user, 'create', 'web')
    assert code == 201 and r['status']['allowed'] is True and 'cplane-client' in r['status']['reason']
    code, r = access_review(kubesim, 'system:serviceaccount:default:other', 'get', 'web')
    assert r['status'] == {'allowed': False}
    kubesim.auth(add_users=[{'token': 'alice-token', 'username': 'alice', 'groups': ['devs']}],
                 add_rules=[{'groups': ['devs'], 'verbs': ['get', 'list'], 'apiGroups': ['cplane.dev'],
                             'resources': ['clusters'], 'namespace': 'default', 'names': []}])
    code, r = token_review(kubesim, 'alice-token', ['cplane'])
    assert r['status']['user']['username'] == 'alice'
    assert access_review(kubesim, 'alice', 'get', 'x', groups=['devs'])[1]['status']['allowed'] is True
    assert access_review(kubesim, 'alice', 'delete', 'x', groups=['devs'])[1]['status']['allowed'] is False
    assert access_review(kubesim, 'alice', 'get', 'x', groups=['devs'], ns='other')[1]['status']['allowed'] is False
    kubesim.auth(revoke=['alice-token'])
    assert 'authenticated' not in token_review(kubesim, 'alice-token', ['cplane'])[1]['status']
    st = kubesim.admin('stats')
    assert st['subjectaccessreviews'] == 5 and st['subjectaccessreviews_get'] == 3
    assert st['subjectaccessreviews_delete'] == 1 and st['tokenreviews'] == 2
    code, r = kubesim.api('POST', SAR, {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SubjectAccessReview',
                                        'spec': {'user': 'a'}})
    assert code == 422


def test_reviews_need_auth_delegator_and_can_fail(kubesim):
    kubesim.auth(delegators=[])
    code, r = token_review(kubesim, kubesim.client_token, ['cplane'])
    assert code == 403 and r['reason'] == 'Forbidden'
    assert 'cannot create resource "tokenreviews" in API group "authentication.k8s.io"' in r['message']
    code, r = access_review(kubesim, 'a', 'get')
    assert code == 403 and 'subjectaccessreviews' in r['message']
    kubesim.auth(delegators=['system:serviceaccount:default:cplane'], unavailable=True)
    code, r = token_review(kubesim, kubesim.client_token, ['cplane'])
    assert code == 503
    kubesim.auth(unavailable=False)
    assert token_review(kubesim, kubesim.client_token, ['cplane'])[0] == 201
    # Without a token of its own the caller gets the usual 401.
    code, _, _ = kubesim.raw('POST', TR, '{}', token=False)
    assert code == 401
