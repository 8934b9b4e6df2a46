"""kubesim admin endpoints (/kubesim/...): state dumps, knobs, faults on demand, nodes, tokens, bulk data.

No authentication: kubesim listens on loopback only, and tests must be able to
turn knobs even while the API itself is answering 401/403/429.  Never subject
to fault injection.  Mixed into the handler in kubesim.py.
"""

import copy
import json
import random
import time

from kubesim_store import ApiError, RESOURCES, merge_patch


class AdminMixin:
    def admin(self, method, path, q):
        sim = self.server.sim
        store = sim.store
        body = self.read_body() if method in ('POST', 'PUT', 'PATCH', 'DELETE') else b''
        try:
            req = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self.send_json(400, {'error': 'bad JSON: %s' % e})
        op = path[len('/kubesim/'):].strip('/')
        if op == 'state' and method == 'GET':
            with store.lock:
                res = [q['resource']] if q.get('resource') else list(RESOURCES)
                out = {'resourceVersion': str(store.rv), 'min_rv': str(store.min_rv),
                       'knobs': dict(sim.knobs), 'nodes': copy.deepcopy(sim.nodes)}
                for r in res:
                    out[r] = [o for _, o in sorted(store.objs[r].items())]
                body = json.dumps(out, separators=(',', ':'))
            with sim.stats_lock:
                stats = dict(sim.stats, active_watches=sim.active_watches,
                             controller_busy=len(store.active))
            return self.send_raw_json(200, body[:-1] + ',"stats":' + json.dumps(stats) + '}')
        if op == 'knobs':
            if method == 'POST':
                bad = [key for key in req if key not in sim.knobs]
                if bad:
                    return self.send_json(400, {'error': 'unknown knobs: %s' % ', '.join(bad)})
                with store.lock:
                    sim.knobs.update(req)
                    store.active.update(store.objs['deployments'].keys())
                    store.cond.notify_all()
            return self.send_json(200, dict(sim.knobs))
        if op == 'stats':
            with sim.stats_lock:
                return self.send_json(200, dict(sim.stats, active_watches=sim.active_watches,
                                                controller_busy=len(store.active)))
        if op == 'auth':
            return self.send_json(200, sim.auth.configure(req) if method == 'POST' else sim.auth.state())
        if op == 'patches' and method == 'GET':
            with sim.stats_lock:
                return self.send_json(200, {'patches': list(sim.patches)})
        if op == 'stats/reset' and method == 'POST':
            with sim.stats_lock:
                sim.stats.clear()
            return self.send_json(200, {})
        if method != 'POST':
            return self.send_json(405, {'error': 'use POST'})
        if op == 'settle':
            # Waits until the simulated controllers have nothing left to do (every Deployment rolled out,
            # stuck for good, or deleted), so a test can compare a client's cache with the store.
            end = time.time() + float(req.get('timeout_s', 10))
            while True:
                with store.lock:
                    busy = len(store.active)
                if not busy or time.time() >= end:
                    return self.send_json(200, {'settled': not busy, 'busy': busy,
                                                'resourceVersion': str(store.rv)})
                time.sleep(0.02)    # polls inside settle's bounded loop (timeout_s)
        if op == 'compact':
            rv = store.compact(kill_watches=bool(req.get('kill_watches', False)))
            sim.count('fault_compactions')
            return self.send_json(200, {'min_rv': str(rv)})
        if op == 'drop-watches':
            with store.lock:
                store.drop_epoch += 1
                store.cond.notify_all()
            return self.send_json(200, {})
        if op == 'nodes':
            with store.lock:
                nodes = copy.deepcopy(req['set']) if 'set' in req else copy.deepcopy(sim.nodes)
                rm = set(req.get('remove') or [])
                nodes = [n for n in nodes if n.get('name') not in rm]
                for n in req.get('add') or []:
                    n = dict(n)
                    n.setdefault('name', 'kubesim-node-%d' % (len(nodes) + random.randint(1000, 9999)))
                    n.setdefault('labels', {})
                    nodes.append(n)
                for i, n in enumerate(nodes):
                    n.setdefault('name', 'kubesim-node-x%d' % i)
                    n.setdefault('labels', {})
                sim.set_nodes(nodes)
                return self.send_json(200, {'nodes': copy.deepcopy(sim.nodes)})
        if op == 'rotate-token':
            return self.send_json(200, sim.rotate_token(req.get('token'), req.get('grace_s')))
        if op == 'pace':
            with store.lock:
                sim.knobs['ready_pace_ms'] = float(req.get('ms', 100))
                sim.knobs['instant'] = float(req.get('ms', 100)) == 0
                store.active.update(store.objs['deployments'].keys())
            return self.send_json(200, dict(sim.knobs))
        if op == 'bulk-create':
            ns = req.get('namespace') or sim.namespace
            prefix = req.get('prefix', 'bulk')
            n = int(req.get('count', 1))
            labels = dict(req.get('labels') or {})
            created = 0
            for i in range(n):
                name = '%s-%05d' % (prefix, i)
                lab = dict(labels, **{'app.kubernetes.io/name': name})
                # Optional richer pods (benches of specs): extra container fields, pod-template
                # labels/annotations, Deployment annotations.
                # "{name}" in the container's strings becomes the Deployment's name (specs that differ).
                ctr = json.loads(json.dumps(req.get('container') or {}).replace('{name}', name))
                ctr = dict(ctr, name='c', image=req.get('image', 'registry.k8s.io/pause:3.9'))
                tmeta = {'labels': dict(lab, **(req.get('pod_labels') or {}))}
                if req.get('pod_annotations'):
                    tmeta['annotations'] = dict(req['pod_annotations'])
                meta = {'name': name, 'labels': lab}
                if req.get('annotations'):
                    meta['annotations'] = dict(req['annotations'])
                body = {'metadata': meta,
                        'spec': {'replicas': int(req.get('replicas', 0)),
                                 'selector': {'matchLabels': {'app.kubernetes.io/name': name}},
                                 'template': {'metadata': tmeta, 'spec': {'containers': [ctr]}}}}
                try:
                    store.create_deployment(ns, body, 'kubesim-bulk')
                    created += 1
                except ApiError:
                    pass
            return self.send_json(200, {'created': created, 'resourceVersion': str(store.rv)})
        if op == 'churn':
            # N MODIFIED events, round robin over matching deployments (annotation bumps): watch load for benches.
            ns = req.get('namespace') or sim.namespace
            prefix = req.get('prefix', '')
            n = int(req.get('count', 1))
            with store.lock:
                keys = [key for key in sorted(store.objs['deployments']) if key[0] == ns and key[1].startswith(prefix)]
                for i in range(n if keys else 0):
                    cur = store.objs['deployments'][keys[i % len(keys)]]
                    new = dict(cur)
                    new['metadata'] = dict(cur['metadata'])
                    new['metadata']['annotations'] = dict(cur['metadata'].get('annotations') or {},
                                                          **{'kubesim.dev/churn': str(i)})
                    store.put_update('deployments', new, cur)
                return self.send_json(200, {'events': n if keys else 0, 'resourceVersion': str(store.rv)})
        if op == 'patch':
            res, ns, name = req.get('resource', 'deployments'), req.get('namespace') or sim.namespace, req['name']
            with store.lock:
                cur = store.get(res, ns, name)
                if cur is None:
                    return self.send_json(404, {'error': 'not found'})
                new = merge_patch(copy.deepcopy(cur), req.get('patch') or {})
                new['metadata']['name'], new['metadata']['namespace'] = name, ns
                store.put_update(res, new, cur)
                if res == 'deployments':
                    store.active.add((ns, name))
            return self.send_json(200, new)
        if op == 'delete':
            res, ns, name = req.get('resource', 'deployments'), req.get('namespace') or sim.namespace, req['name']
            with store.lock:
                cur = store.get(res, ns, name)
                if cur is None:
                    return self.send_json(404, {'error': 'not found'})
                fin = store.remove_deployment(cur) if res == 'deployments' else store.delete_pod(cur)
            return self.send_json(200, fin)
        return self.send_json(404, {'error': 'unknown admin operation %r' % op})

    def send_raw_json(self, code, text):
        body = text.encode() + b'\n'
        self.out(self.head_bytes(code, None, len(body)) + body, split=False)
        self.status_code = code
