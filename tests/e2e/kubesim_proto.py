"""Decoding of the few Kubernetes protobuf request bodies kubectl sends.

Typed kubectl commands (`kubectl create deployment ...`) send
`application/vnd.kubernetes.protobuf`: the magic "k8s\\0" then a
runtime.Unknown {typeMeta, raw}.  Only the fields those commands set are
mapped (field numbers from k8s.io/api generated.proto); the result is the
JSON-shaped dict the rest of kubesim works with.  Responses stay JSON, which
every client also accepts.
"""

MAGIC = b'k8s\x00'

SCHEMA = {
    'Unknown': {1: ('typeMeta', 'TypeMeta'), 2: ('raw', 'bytes')},
    'TypeMeta': {1: ('apiVersion', 'str'), 2: ('kind', 'str')},
    'Deployment': {1: ('metadata', 'ObjectMeta'), 2: ('spec', 'DeploymentSpec')},
    'ObjectMeta': {1: ('name', 'str'), 2: ('generateName', 'str'), 3: ('namespace', 'str'),
                   6: ('resourceVersion', 'str'), 11: ('labels', 'map'), 12: ('annotations', 'map'),
                   14: ('finalizers', '[str')},
    'DeploymentSpec': {1: ('replicas', 'int'), 2: ('selector', 'LabelSelector'), 3: ('template', 'PodTemplateSpec'),
                       4: ('strategy', 'DeploymentStrategy'), 5: ('minReadySeconds', 'int0'),
                       6: ('revisionHistoryLimit', 'int'), 7: ('paused', 'bool0'),
                       9: ('progressDeadlineSeconds', 'int')},
    'LabelSelector': {1: ('matchLabels', 'map'), 2: ('matchExpressions', '[LabelSelectorRequirement')},
    'LabelSelectorRequirement': {1: ('key', 'str'), 2: ('operator', 'str'), 3: ('values', '[str')},
    'PodTemplateSpec': {1: ('metadata', 'ObjectMeta'), 2: ('spec', 'PodSpec')},
    'PodSpec': {2: ('containers', '[Container'), 3: ('restartPolicy', 'str'),
                4: ('terminationGracePeriodSeconds', 'int'), 6: ('dnsPolicy', 'str'), 7: ('nodeSelector', 'map'),
                8: ('serviceAccountName', 'str'), 19: ('schedulerName', 'str')},
    'Container': {1: ('name', 'str'), 2: ('image', 'str'), 3: ('command', '[str'), 4: ('args', '[str'),
                  5: ('workingDir', 'str'), 6: ('ports', '[ContainerPort'), 13: ('terminationMessagePath', 'str'),
                  14: ('imagePullPolicy', 'str'), 20: ('terminationMessagePolicy', 'str')},
    'ContainerPort': {1: ('name', 'str'), 2: ('hostPort', 'int0'), 3: ('containerPort', 'int'),
                      4: ('protocol', 'str')},
    'DeploymentStrategy': {1: ('type', 'str'), 2: ('rollingUpdate', 'RollingUpdateDeployment')},
    'RollingUpdateDeployment': {1: ('maxUnavailable', 'IntOrString'), 2: ('maxSurge', 'IntOrString')},
    'IntOrString': {1: ('type', 'int0'), 2: ('intVal', 'int0'), 3: ('strVal', 'str')},
    'DeleteOptions': {1: ('gracePeriodSeconds', 'int'), 2: ('preconditions', 'Preconditions'),
                      3: ('orphanDependents', 'bool'), 4: ('propagationPolicy', 'str'), 5: ('dryRun', '[str')},
    'Preconditions': {1: ('uid', 'str'), 2: ('resourceVersion', 'str')},
    'MapEntry': {1: ('key', 'str'), 2: ('value', 'str')},
}


def _varint(b, i):
    v = shift = 0
    while True:
        if i >= len(b):
            raise ValueError('truncated varint')
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return v, i
        if shift > 70:
            raise ValueError('varint too long')


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError('truncated field')
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError('bad wire type %d' % wt)
        yield fn, wt, v


def _scalar(typ, wt, v):
    if typ in ('str',):
        return v.decode('utf-8')
    if typ in ('int', 'int0'):
        return v - (1 << 64) if v >= 1 << 63 else v
    if typ in ('bool', 'bool0'):
        return bool(v)
    if typ == 'bytes':
        return bytes(v)
    return decode(typ, v)


def decode(msg, b):
    schema = SCHEMA[msg]
    out = {}
    for fn, wt, v in _fields(b):
        if fn not in schema:
            continue
        name, typ = schema[fn]
        if typ == 'map':
            e = decode('MapEntry', v)
            out.setdefault(name, {})[e.get('key', '')] = e.get('value', '')
            continue
        rep = typ.startswith('[')
        typ = typ.lstrip('[')
        val = _scalar(typ, wt, v)
        if rep:
            out.setdefault(name, []).append(val)
        elif typ == 'str' and val == '':
            continue        # gogo protobuf writes empty non-pointer strings; JSON omits them
        elif typ in ('int0', 'bool0') and not val:
            continue
        elif isinstance(val, dict) and not val and typ not in ('LabelSelector',):
            continue
        else:
            out[name] = val
    if msg == 'IntOrString':
        return out.get('strVal', '') if out.get('type') == 1 else out.get('intVal', 0)
    return out


def decode_body(data):
    """Returns the JSON-shaped object for a protobuf request body, or raises ValueError."""
    if not data.startswith(MAGIC):
        raise ValueError('missing k8s protobuf magic')
    unk = decode('Unknown', data[len(MAGIC):])
    tm = unk.get('typeMeta', {})
    kind = tm.get('kind', '')
    if kind not in SCHEMA or kind in ('Unknown', 'TypeMeta', 'MapEntry'):
        raise ValueError('kind %r not supported in protobuf by kubesim' % kind)
    obj = {'apiVersion': tm.get('apiVersion', ''), 'kind': kind}
    obj.update(decode(kind, unk.get('raw', b'')))
    return obj
