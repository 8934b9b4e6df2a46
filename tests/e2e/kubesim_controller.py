"""Simulated deployment controller, scheduler, kubelet and garbage collector for kubesim.

One thread calls tick() every few milliseconds.  Only deployments in
store.active are looked at, so ten thousand settled Deployments cost nothing.
A deployment leaves the active set once nothing more can happen to it without
an outside change (an API write, a node change, a knob).
"""

import copy
import time
import uuid
import hashlib

from kubesim_store import (now_rfc3339, template_hash, rand_suffix, int_or_percent)

BAD_IMAGE_MARKERS = ('nonexistent', 'bad-image')
CRASH_MARKER = 'crashloop'


def full_image(img):
    ref = img
    if '/' not in ref.split(':')[0] or ('.' not in ref.split('/')[0] and ':' not in ref.split('/')[0]
                                       and ref.split('/')[0] != 'localhost'):
        ref = 'docker.io/' + ('library/' + ref if '/' not in ref else ref)
    if ':' not in ref.rsplit('/', 1)[-1] and '@' not in ref:
        ref += ':latest'
    return ref


def node_labels(node):
    lab = {'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': node['name'], 'kubernetes.io/os': 'linux'}
    lab.update(node.get('labels') or {})
    return lab


class Controller:
    def __init__(self, store):
        self.store = store
        self.knobs = store.knobs
        self.ip_counter = 0
        self.nodes_epoch = 0

    # ------------------------------------------------------------ helpers
    def pace(self):
        if self.knobs.get('instant'):
            return 0.0
        return max(0.0, float(self.knobs.get('ready_pace_ms', 100))) / 1000.0

    def nodes_changed(self):
        """Called (under lock) after the node list changed: re-run the scheduler for everything."""
        self.nodes_epoch += 1
        self.store.active.update(self.store.objs['deployments'].keys())

    def pick_node(self, pod_spec):
        sel = pod_spec.get('nodeSelector') or {}
        for n in self.store.nodes:
            lab = node_labels(n)
            if all(lab.get(k) == v for k, v in sel.items()):
                return n['name']
        return None

    def unschedulable_msg(self):
        n = len(self.store.nodes)
        if n == 0:
            return 'no nodes available to schedule pods'
        return "0/%d nodes are available: %d node(s) didn't match Pod's node affinity/selector." % (n, n)

    # ------------------------------------------------------------ main loop
    def tick(self):
        st = self.store
        with st.lock:
            if self.knobs.get('controller_paused'):
                return
            now = time.time()
            for key in list(st.active):
                d = st.objs['deployments'].get(key)
                if d is None:
                    st.active.discard(key)
                    continue
                if self.reconcile(d, now):
                    st.active.discard(key)

    def reconcile(self, d, now):
        """Returns True when settled."""
        st = self.store
        md = d['metadata']
        uid = md['uid']
        side = st.dside.setdefault(uid, {'created': now, 'next_ready': 0.0, 'progress_t': now,
                                         'revision': 0, 'hash': None})
        owned = st.pods_by_owner.setdefault(uid, set())
        pods = [st.objs['pods'][k] for k in sorted(owned) if k in st.objs['pods']]
        if md.get('deletionTimestamp'):
            return self.reconcile_deleting(d, side, pods, now)

        spec = d['spec']
        h = template_hash(spec['template'])
        new_rs = False
        if side['hash'] != h:
            side['hash'] = h
            side['revision'] += 1
            side['rs_uid'] = str(uuid.uuid4())
            side['progress_t'] = now
            new_rs = True
        want = spec.get('replicas', 1)
        newp = [p for p in pods if p['metadata']['labels'].get('pod-template-hash') == h]
        oldp = [p for p in pods if p['metadata']['labels'].get('pod-template-hash') != h]
        surge, max_unavail = self.rollout_limits(spec, want)
        recreate = (spec.get('strategy') or {}).get('type') == 'Recreate'
        if not spec.get('paused'):
            if oldp:
                # Rolling update: never more than replicas + maxSurge pods; Recreate: old ones go first.
                target = 0 if recreate else min(want, max(len(newp), want + surge - len(oldp)))
            else:
                target = want
            for _ in range(target - len(newp)):
                newp.append(self.create_pod(d, side, h, now))
            if len(newp) > want:
                # Scale down: unready pods go first, then the newest.
                newp.sort(key=lambda p: (self.is_ready(p), p['metadata']['creationTimestamp']))
                for p in newp[:len(newp) - want]:
                    st.delete_pod(p)
                newp = newp[len(newp) - want:]
        busy = False
        pace = self.pace()
        for p in sorted(newp + oldp, key=lambda p: p['metadata']['creationTimestamp']):
            if self.step_pod(p, side, now, pace):
                busy = True
        newp = [st.objs['pods'][k] for k in sorted(owned) if k in st.objs['pods']
                and st.objs['pods'][k]['metadata']['labels'].get('pod-template-hash') == h]
        oldp = [st.objs['pods'][k] for k in sorted(owned) if k in st.objs['pods']
                and st.objs['pods'][k]['metadata']['labels'].get('pod-template-hash') != h]
        if oldp and not spec.get('paused'):
            # Old pods go while availability stays at or above replicas - maxUnavailable; unready ones
            # count for nothing and go at once.
            ready_old = sorted((p for p in oldp if self.is_ready(p)), key=lambda p: p['metadata']['creationTimestamp'])
            gone = [p for p in oldp if not self.is_ready(p)]
            ready_all = len(ready_old) + sum(1 for p in newp if self.is_ready(p))
            removable = len(ready_old) if recreate else max(0, ready_all - (want - max_unavail))
            gone += ready_old[:removable]
            for p in gone:
                st.delete_pod(p)
            oldp = [p for p in oldp if p not in gone]
            busy = True
        done, deadline_pending = self.update_status(d, side, newp, oldp, now, new_rs)
        return not busy and (done or not deadline_pending)

    def reconcile_deleting(self, d, side, pods, now):
        st = self.store
        fins = list(d['metadata'].get('finalizers') or [])
        if 'orphan' in fins:
            for p in pods:
                new = copy.deepcopy(p)
                new['metadata'].pop('ownerReferences', None)
                st.put_update('pods', new, p)
            st.pods_by_owner.pop(d['metadata']['uid'], None)
            fins.remove('orphan')
            return self.finish_finalizer(d, fins)
        if 'foregroundDeletion' in fins:
            pace = self.pace()
            if pods:
                nxt = side.get('next_delete', 0.0)
                if now < nxt:
                    return False
                todo = pods if pace == 0 else pods[:1]
                for p in todo:
                    st.delete_pod(p)
                side['next_delete'] = now + pace
                # Like syncStatusOnly in the real controller: counts (and observedGeneration, bumped by
                # the deletion) keep being written while the pods go.
                left = [st.objs['pods'][k] for k in sorted(st.pods_by_owner.get(d['metadata']['uid'], ()))
                        if k in st.objs['pods']]
                if side.get('hash'):
                    newp = [p for p in left if p['metadata']['labels'].get('pod-template-hash') == side['hash']]
                    oldp = [p for p in left if p['metadata']['labels'].get('pod-template-hash') != side['hash']]
                    self.update_status(d, side, newp, oldp, now, False, status_only=True)
                return False
            fins.remove('foregroundDeletion')
            return self.finish_finalizer(d, fins)
        return True     # someone else's finalizer: wait for them

    def finish_finalizer(self, d, fins):
        st = self.store
        new = copy.deepcopy(d)
        if fins:
            new['metadata']['finalizers'] = fins
            st.put_update('deployments', new, d)
            return True
        new['metadata'].pop('finalizers', None)
        st.remove_deployment(new)
        return True

    # ------------------------------------------------------------ pods
    @staticmethod
    def is_ready(p):
        return p.get('status', {}).get('phase') == 'Running' and any(
            c.get('type') == 'Ready' and c.get('status') == 'True' for c in p['status'].get('conditions', []))

    def create_pod(self, d, side, h, now):
        st = self.store
        dmd = d['metadata']
        tmpl = d['spec']['template']
        labels = dict((tmpl.get('metadata') or {}).get('labels') or {})
        labels['pod-template-hash'] = h
        rs_name = '%s-%s' % (dmd['name'], h)
        base = (rs_name + '-')[:58]          # generated names are kept within 63 characters
        while True:
            name = base + rand_suffix()
            if (dmd['namespace'], name) not in st.objs['pods']:
                break
        pmd = {'name': name, 'generateName': base, 'namespace': dmd['namespace'],
               'uid': str(uuid.uuid4()), 'creationTimestamp': now_rfc3339(now), 'labels': labels}
        ann = (tmpl.get('metadata') or {}).get('annotations')
        if ann:
            pmd['annotations'] = dict(ann)
        pmd['ownerReferences'] = [{'apiVersion': 'apps/v1', 'kind': 'ReplicaSet', 'name': rs_name,
                                   'uid': side['rs_uid'], 'controller': True, 'blockOwnerDeletion': True}]
        spec = copy.deepcopy(tmpl.get('spec') or {})
        spec.setdefault('enableServiceLinks', True)
        spec.setdefault('preemptionPolicy', 'PreemptLowerPriority')
        spec.setdefault('priority', 0)
        images = [c.get('image', '') for c in spec.get('containers', [])]
        node = self.pick_node(spec)
        pside = {'owner': dmd['uid'], 'created': now, 't': now}
        if node is None:
            pside['state'] = 'unschedulable'
            pside['epoch'] = self.nodes_epoch
            status = self.status_unschedulable(now)
        else:
            spec['nodeName'] = node
            pside['state'], status = self.status_after_schedule(
                spec, now, images, '%s_%s(%s)' % (name, dmd['namespace'], pmd['uid']))
        pod = {'kind': 'Pod', 'apiVersion': 'v1', 'metadata': pmd, 'spec': spec, 'status': status}
        st.pside[pmd['uid']] = pside
        st.pods_by_owner.setdefault(dmd['uid'], set()).add((dmd['namespace'], name))
        st.put_new('pods', pod)
        return pod

    def step_pod(self, p, side, now, pace):
        """Advances one pod's simulated life; returns True if it still has somewhere to go."""
        st = self.store
        ps = st.pside.get(p['metadata']['uid'])
        if ps is None:
            return False
        state = ps['state']
        if state == 'unschedulable':
            if ps.get('epoch') == self.nodes_epoch:
                return False
            ps['epoch'] = self.nodes_epoch
            node = self.pick_node(p['spec'])
            if node is None:
                return False
            new = copy.deepcopy(p)
            new['spec']['nodeName'] = node
            images = [c.get('image', '') for c in new['spec'].get('containers', [])]
            md = new['metadata']
            ps['state'], new['status'] = self.status_after_schedule(
                new['spec'], now, images, '%s_%s(%s)' % (md['name'], md['namespace'], md['uid']))
            ps['t'] = now
            st.put_update('pods', new, p)
            return True
        if state == 'creating':
            if now < ps['t'] + pace or now < side.get('next_ready', 0.0):
                return True
            new = copy.deepcopy(p)
            new['status'] = self.status_running(new, now)
            ps['state'] = 'ready'
            side['next_ready'] = now + pace
            st.put_update('pods', new, p)
            return False
        if state == 'errimagepull':
            if now < ps['t'] + max(1.0, pace):
                return True
            new = copy.deepcopy(p)
            cs = new['status']['containerStatuses']
            for c in cs:
                c['state'] = {'waiting': {'reason': 'ImagePullBackOff',
                                          'message': 'Back-off pulling image "%s"' % c['image']}}
            ps['state'] = 'imagepullbackoff'
            st.put_update('pods', new, p)
            return False
        return False

    def _conds(self, now, scheduled, ready, names):
        t = now_rfc3339(now)
        unready = 'containers with unready status: [%s]' % ' '.join(names)
        conds = []
        if scheduled:
            conds.append({'type': 'PodReadyToStartContainers', 'status': 'True' if ready is not None else 'False',
                          'lastProbeTime': None, 'lastTransitionTime': t})
            conds.append({'type': 'Initialized', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': t})
            for typ in ('Ready', 'ContainersReady'):
                c = {'type': typ, 'status': 'True' if ready else 'False', 'lastProbeTime': None,
                     'lastTransitionTime': t}
                if not ready:
                    c['reason'] = 'ContainersNotReady'
                    c['message'] = unready
                conds.append(c)
        conds.append({'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': t})
        return conds

    def status_unschedulable(self, now):
        return {'phase': 'Pending',
                'conditions': [{'type': 'PodScheduled', 'status': 'False', 'lastProbeTime': None,
                                'lastTransitionTime': now_rfc3339(now), 'reason': 'Unschedulable',
                                'message': self.unschedulable_msg()}],
                'qosClass': 'BestEffort'}

    def _host_ip(self, node):
        names = [n['name'] for n in self.store.nodes]
        i = names.index(node) + 1 if node in names else 1
        return '10.0.0.%d' % (i % 250 + 1)

    def status_after_schedule(self, spec, now, images, podref='?'):
        names = [c.get('name', '') for c in spec.get('containers', [])]
        t = now_rfc3339(now)
        base = {'hostIP': self._host_ip(spec.get('nodeName')),
                'hostIPs': [{'ip': self._host_ip(spec.get('nodeName'))}], 'startTime': t}
        cs = []
        state = 'creating'
        for c in spec.get('containers', []):
            img = c.get('image', '')
            st = {'name': c.get('name', ''), 'state': {'waiting': {'reason': 'ContainerCreating'}},
                  'lastState': {}, 'ready': False, 'restartCount': 0, 'image': img, 'imageID': '',
                  'started': False}
            if any(m in img for m in BAD_IMAGE_MARKERS):
                ref = full_image(img)
                st['state'] = {'waiting': {'reason': 'ErrImagePull', 'message': (
                    'rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to resolve '
                    'reference "%s": %s: not found' % (ref, ref, ref))}}
                state = 'errimagepull'
            elif CRASH_MARKER in img and state != 'errimagepull':
                st['state'] = {'waiting': {'reason': 'CrashLoopBackOff', 'message': (
                    'back-off 10s restarting failed container=%s pod=%s' % (c.get('name', ''), podref))}}
                st['lastState'] = {'terminated': {'exitCode': 1, 'reason': 'Error', 'startedAt': t,
                                                  'finishedAt': t, 'containerID': 'containerd://' + uuid.uuid4().hex}}
                st['restartCount'] = 1
                st['imageID'] = full_image(img) + '@sha256:' + hashlib.sha256(img.encode()).hexdigest()
                state = 'crash'
            cs.append(st)
        status = {'phase': 'Running' if state == 'crash' else 'Pending',
                  'conditions': self._conds(now, True, None if state != 'crash' else False, names)}
        status.update(base)
        if state == 'crash':
            self.ip_counter += 1
            status['podIP'] = '10.244.%d.%d' % (self.ip_counter // 250 % 250, self.ip_counter % 250 + 1)
            status['podIPs'] = [{'ip': status['podIP']}]
        status['containerStatuses'] = cs
        status['qosClass'] = 'BestEffort'
        return state, status

    def status_running(self, pod, now):
        spec = pod['spec']
        names = [c.get('name', '') for c in spec.get('containers', [])]
        t = now_rfc3339(now)
        self.ip_counter += 1
        ip = '10.244.%d.%d' % (self.ip_counter // 250 % 250, self.ip_counter % 250 + 1)
        host = self._host_ip(spec.get('nodeName'))
        cs = []
        for c in spec.get('containers', []):
            img = c.get('image', '')
            cs.append({'name': c.get('name', ''), 'state': {'running': {'startedAt': t}}, 'lastState': {},
                       'ready': True, 'restartCount': 0, 'image': img,
                       'imageID': full_image(img) + '@sha256:' + hashlib.sha256(img.encode()).hexdigest(),
                       'containerID': 'containerd://' + uuid.uuid4().hex, 'started': True})
        return {'phase': 'Running', 'conditions': self._conds(now, True, True, names), 'hostIP': host,
                'hostIPs': [{'ip': host}], 'podIP': ip, 'podIPs': [{'ip': ip}],
                'startTime': pod['status'].get('startTime', t), 'containerStatuses': cs, 'qosClass': 'BestEffort'}

    @staticmethod
    def rollout_limits(spec, want):
        """(maxSurge, maxUnavailable) resolved like the real controller (surge rounds up, unavailable down)."""
        st = spec.get('strategy') or {}
        if st.get('type') == 'Recreate':
            return 0, want
        ru = st.get('rollingUpdate') or {}
        surge = int_or_percent(ru.get('maxSurge', '25%'), want, True)
        unavail = int_or_percent(ru.get('maxUnavailable', '25%'), want, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        return surge, min(unavail, want)

    # ------------------------------------------------------------ deployment status
    def update_status(self, d, side, newp, oldp, now, new_rs, status_only=False):
        """Computes status like the real controller's calculateStatus + syncRolloutStatus.

        Returns (complete, deadline_pending)."""
        st = self.store
        spec = d['spec']
        md = d['metadata']
        want = spec.get('replicas', 1)
        allp = newp + oldp
        ready = sum(1 for p in allp if self.is_ready(p))
        available = ready
        total = len(allp)
        updated = len(newp)
        old = d.get('status') or {}
        _, max_unavail = self.rollout_limits(spec, want)
        status = {'observedGeneration': md.get('generation', 1)}
        for k, v in (('replicas', total), ('updatedReplicas', updated), ('readyReplicas', ready),
                     ('availableReplicas', available), ('unavailableReplicas', max(0, total - available))):
            if v:
                status[k] = v
        conds = [dict(c) for c in old.get('conditions', [])]
        t = now_rfc3339(now)
        rs_name = '%s-%s' % (md['name'], side['hash'])

        def set_cond(typ, cstatus, reason, message, force=False):
            cur = next((c for c in conds if c['type'] == typ), None)
            if cur is not None and cur['status'] == cstatus and cur['reason'] == reason and not force:
                return
            c = {'type': typ, 'status': cstatus, 'lastUpdateTime': t,
                 'lastTransitionTime': cur['lastTransitionTime'] if cur and cur['status'] == cstatus else t,
                 'reason': reason, 'message': message}
            conds[:] = [x for x in conds if x['type'] != typ] + [c]

        if new_rs:
            set_cond('Progressing', 'True', 'NewReplicaSetCreated', 'Created new replica set "%s"' % rs_name,
                     force=True)
            side['progress_t'] = now
        if available >= want - max_unavail:
            set_cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
        else:
            set_cond('Available', 'False', 'MinimumReplicasUnavailable',
                     'Deployment does not have minimum availability.')
        cur = next((c for c in conds if c['type'] == 'Progressing'), None)
        complete = (updated == want and available == want and total == want)
        already_complete = total == updated and cur is not None and cur['reason'] == 'NewReplicaSetAvailable'
        deadline_pending = False
        if not spec.get('paused') and not already_complete and not status_only:
            pds = spec.get('progressDeadlineSeconds', 600)
            progressing = (updated > old.get('updatedReplicas', 0) or
                           (total - updated) < (old.get('replicas', 0) - old.get('updatedReplicas', 0)) or
                           ready > old.get('readyReplicas', 0) or available > old.get('availableReplicas', 0))
            if complete:
                set_cond('Progressing', 'True', 'NewReplicaSetAvailable',
                         'ReplicaSet "%s" has successfully progressed.' % rs_name, force=True)
            elif progressing:
                set_cond('Progressing', 'True', 'ReplicaSetUpdated', 'ReplicaSet "%s" is progressing.' % rs_name,
                         force=True)
                side['progress_t'] = now
                deadline_pending = True
            elif cur is not None and cur['reason'] != 'ProgressDeadlineExceeded':
                if now > side['progress_t'] + pds:
                    set_cond('Progressing', 'False', 'ProgressDeadlineExceeded',
                             'ReplicaSet "%s" has timed out progressing.' % rs_name)
                else:
                    deadline_pending = True
        if conds:
            status['conditions'] = conds
        ann = md.get('annotations') or {}
        rev = str(side['revision'])
        if status == old and ann.get('deployment.kubernetes.io/revision') == rev:
            return complete, deadline_pending
        new = copy.deepcopy(d)
        new['status'] = status
        new['metadata'].setdefault('annotations', {})['deployment.kubernetes.io/revision'] = rev
        st.put_update('deployments', new, d)
        return complete, deadline_pending
