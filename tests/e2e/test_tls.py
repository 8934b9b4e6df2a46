"""The BearSSL client (src/io/tls.c) and io_conn against real TLS servers on loopback.

tests/tools/tls_probe.c (built as build/tools/tls_probe) makes HTTP/1.1 requests over io_conn; the
servers are Python's ssl (OpenSSL) and `openssl s_server`, with certificates made here by the
openssl command: RSA and ECDSA CAs, an intermediate chain, a wrong CA, a wrong name, an expired
certificate.  Failures must come back in words, never as a bare number.
"""

import http.server
import os
import random
import socket
import ssl
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.environ.get('CPLANE_TLS_PROBE', os.path.join(ROOT, 'build', 'tools', 'tls_probe'))
SANS = 'subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:127.0.0.1'


@pytest.fixture(scope='module', autouse=True)
def build_probe():
    if 'CPLANE_TLS_PROBE' in os.environ:
        return
    r = subprocess.run(['make', '-s', 'build/tools/tls_probe'], cwd=ROOT, capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0:
        pytest.fail('building tls_probe failed:\n' + r.stdout[-3000:] + r.stderr[-3000:])


def openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def newkey(kind):
    if kind == 'rsa':
        return ['-newkey', 'rsa:2048']
    return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:' + ('P-384' if kind == 'ec384' else 'P-256')]


def make_ca(d, name, kind, signer=None):
    """Self-signed CA (or an intermediate signed by signer)."""
    ext = os.path.join(d, name + '.ext')
    with open(ext, 'w') as f:
        f.write('basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
    if signer is None:
        openssl('req', '-x509', *newkey(kind), '-nodes', '-keyout', name + '.key', '-out', name + '.pem',
                '-days', '30', '-subj', '/CN=' + name, '-addext', 'basicConstraints=critical,CA:TRUE',
                '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=d)
    else:
        openssl('req', *newkey(kind), '-nodes', '-keyout', name + '.key', '-out', name + '.csr',
                '-subj', '/CN=' + name, cwd=d)
        openssl('x509', '-req', '-in', name + '.csr', '-CA', signer + '.pem', '-CAkey', signer + '.key',
                '-CAcreateserial', '-out', name + '.pem', '-days', '30', '-extfile', ext, cwd=d)
    return os.path.join(d, name + '.pem')


def make_leaf(d, name, kind, ca, sans=SANS, dates=None):
    ext = os.path.join(d, name + '.ext')
    with open(ext, 'w') as f:
        f.write(sans + '\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                'extendedKeyUsage=serverAuth\n')
    openssl('req', *newkey(kind), '-nodes', '-keyout', name + '.key', '-out', name + '.csr',
            '-subj', '/CN=' + name, cwd=d)
    if dates is None:
        openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem', '-CAkey', ca + '.key',
                '-CAcreateserial', '-out', name + '.pem', '-days', '10', '-extfile', ext, cwd=d)
    else:
        # `openssl ca` is the one 3.0 command that takes explicit validity dates
        cnf = os.path.join(d, name + '.cnf')
        with open(cnf, 'w') as f:
            f.write('[ca]\ndefault_ca=d\n[d]\ndatabase=%s.idx\nnew_certs_dir=.\nserial=%s.serial\n'
                    'default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' % (name, name))
        open(os.path.join(d, name + '.idx'), 'w').close()
        with open(os.path.join(d, name + '.serial'), 'w') as f:
            f.write('1000\n')
        openssl('ca', '-batch', '-config', cnf, '-cert', ca + '.pem', '-keyfile', ca + '.key', '-in',
                name + '.csr', '-out', name + '.pem', '-startdate', dates[0], '-enddate', dates[1],
                '-extfile', ext, '-notext', cwd=d)
    return os.path.join(d, name + '.pem'), os.path.join(d, name + '.key')


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('pki'))
    p = {'dir': d}
    p['rsa_ca'] = make_ca(d, 'rsa-ca', 'rsa')
    p['ec_ca'] = make_ca(d, 'ec-ca', 'ec')
    p['other_ca'] = make_ca(d, 'other-ca', 'ec')
    p['rsa_leaf'] = make_leaf(d, 'rsa-leaf', 'rsa', 'rsa-ca')
    p['ec_leaf'] = make_leaf(d, 'ec-leaf', 'ec', 'ec-ca')
    p['wrong_name'] = make_leaf(d, 'wrong-name', 'ec', 'ec-ca', sans='subjectAltName=DNS:other.example')
    p['expired'] = make_leaf(d, 'expired', 'ec', 'ec-ca', dates=('20200101000000Z', '20200102000000Z'))
    # RSA root -> ECDSA P-384 intermediate -> ECDSA leaf; the server sends leaf + intermediate
    make_ca(d, 'inter', 'ec384', signer='rsa-ca')
    cert, key = make_leaf(d, 'chain-leaf', 'ec', 'inter')
    chain = os.path.join(d, 'chain-full.pem')
    with open(chain, 'w') as out:
        out.write(open(cert).read() + open(os.path.join(d, 'inter.pem')).read())
    p['chain_leaf'] = (chain, key)
    # a bundle with several CAs, the right one last; CRLF line ends like a Windows-made file
    bundle = os.path.join(d, 'bundle.pem')
    with open(bundle, 'w', newline='') as out:
        for ca in (p['other_ca'], p['rsa_ca'], p['ec_ca']):
            out.write(open(ca).read().replace('\n', '\r\n'))
    p['bundle'] = bundle
    return p


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_GET(self):
        n, chunked = 1000, False
        if '?' in self.path:
            for kv in self.path.split('?', 1)[1].split('&'):
                k, _, v = kv.partition('=')
                if k == 'n':
                    n = int(v)
                elif k == 'chunked':
                    chunked = v == '1'
        body = bytes(i % 251 for i in range(n))
        self.send_response(200)
        self.send_header('X-Pattern', '1')
        self.send_header('Content-Type', 'application/octet-stream')
        if not chunked:
            self.send_header('Content-Length', str(n))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        rnd = random.Random(n)
        pos = 0
        while pos < n:
            k = min(n - pos, rnd.choice([1, 7, 100, 4096, 20000]))
            ext = ';x=%d' % pos if rnd.random() < 0.3 else ''
            self.wfile.write(b'%x%s\r\n' % (k, ext.encode()) + body[pos:pos + k] + b'\r\n')
            self.wfile.flush()
            pos += k
        self.wfile.write(b'0\r\nX-Done: 1\r\n\r\n')
        self.wfile.flush()


class TLSServer:
    """Python's ssl server on an ephemeral loopback port, in a thread."""

    def __init__(self, cert, key, min_version=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if min_version is not None:
            ctx.minimum_version = min_version
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class PlainServer(TLSServer):
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()


@pytest.fixture
def server(request):
    servers = []

    def start(*args, **kw):
        s = TLSServer(*args, **kw)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def probe(*args, timeout=60):
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1')
    r = subprocess.run([PROBE, *[str(a) for a in args]], capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert 'runtime error' not in r.stderr and 'AddressSanitizer' not in r.stderr, r.stderr[-3000:]
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''
    return r.returncode, line


def ok_fields(line):
    assert line.startswith('ok '), line
    return dict(kv.split('=', 1) for kv in line.split()[1:])


def test_rsa_ca_by_ip_uses_in_cluster_name(pki, server):
    s = server(*pki['rsa_leaf'])
    rc, line = probe('--ca', pki['rsa_ca'], '127.0.0.1', s.port)
    assert rc == 0, line
    f = ok_fields(line)
    assert f['status'] == '200' and f['pattern'] == '1' and f['body_bytes'] == '1000'
    assert f['suite'].startswith('ECDHE-RSA-') and ('GCM' in f['suite'] or 'CHACHA20' in f['suite'])


def test_ecdsa_ca_by_dns_name(pki, server):
    s = server(*pki['ec_leaf'])
    rc, line = probe('--ca', pki['ec_ca'], 'localhost', s.port)
    assert rc == 0, line
    assert ok_fields(line)['suite'].startswith('ECDHE-ECDSA-')


def test_intermediate_chain_and_bundle(pki, server):
    s = server(*pki['chain_leaf'])
    rc, line = probe('--ca', pki['bundle'], '127.0.0.1', s.port)
    assert rc == 0, line
    s2 = server(*pki['ec_leaf'])
    rc, line = probe('--ca', pki['bundle'], 'localhost', s2.port)
    assert rc == 0, line


def test_wrong_ca(pki, server):
    s = server(*pki['rsa_leaf'])
    rc, line = probe('--ca', pki['other_ca'], '127.0.0.1', s.port)
    assert rc == 1
    assert line == 'error=tls: certificate signed by unknown authority'


def test_wrong_name(pki, server):
    s = server(*pki['wrong_name'])
    rc, line = probe('--ca', pki['ec_ca'], '127.0.0.1', s.port)
    assert rc == 1
    assert line == 'error=tls: certificate name mismatch'
    # an explicit name that the certificate does not carry fails the same way
    s2 = server(*pki['ec_leaf'])
    rc, line = probe('--ca', pki['ec_ca'], '--name', 'api.example.com', '127.0.0.1', s2.port)
    assert line == 'error=tls: certificate name mismatch'


def test_expired(pki, server):
    s = server(*pki['expired'])
    rc, line = probe('--ca', pki['ec_ca'], 'localhost', s.port)
    assert rc == 1
    assert line == 'error=tls: certificate expired or not yet valid'


def test_server_only_tls13(pki, server):
    s = server(*pki['ec_leaf'], min_version=ssl.TLSVersion.TLSv1_3)
    rc, line = probe('--ca', pki['ec_ca'], 'localhost', s.port)
    assert rc == 1
    assert line.startswith('error=tls: ') and not line[len('error=tls: '):].isdigit(), line
    assert 'protocol version' in line or 'handshake' in line, line


def test_keep_alive_chunked_and_large(pki, server):
    s = server(*pki['ec_leaf'])
    rc, line = probe('--ca', pki['ec_ca'], '--repeat', 5, '--path', '/p?n=300000&chunked=1', 'localhost', s.port)
    assert rc == 0, line
    f = ok_fields(line)
    assert f['responses'] == '5' and f['body_bytes'] == str(5 * 300000) and f['pattern'] == '1'
    rc, line = probe('--ca', pki['ec_ca'], '--repeat', 3, '--path', '/p?n=2000000', 'localhost', s.port)
    assert rc == 0, line
    assert ok_fields(line)['body_bytes'] == str(3 * 2000000)


def test_slow_reader_pauses(pki, server):
    s = server(*pki['rsa_leaf'])
    rc, line = probe('--ca', pki['rsa_ca'], '--slow-reader', '--repeat', 2, '--path', '/p?n=200000&chunked=1',
                     '127.0.0.1', s.port)
    assert rc == 0, line
    f = ok_fields(line)
    assert f['body_bytes'] == '400000' and f['pattern'] == '1'


def test_plain_http_same_api():
    s = PlainServer()
    try:
        rc, line = probe('--repeat', 3, '--path', '/p?n=100000&chunked=1', '127.0.0.1', s.port)
        assert rc == 0, line
        f = ok_fields(line)
        assert f['suite'] == 'none' and f['body_bytes'] == '300000' and f['pattern'] == '1'
        rc, line = probe('--slow-reader', '--path', '/p?n=500000', '127.0.0.1', s.port)
        assert rc == 0, line
    finally:
        s.close()


def test_connection_refused_and_plain_to_tls(pki, server):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    rc, line = probe('--ca', pki['ec_ca'], '127.0.0.1', port)
    assert rc == 1 and 'Connection refused' in line, line
    # TLS client to a plain HTTP server: the handshake fails in words
    s = PlainServer()
    try:
        rc, line = probe('--ca', pki['ec_ca'], '127.0.0.1', s.port)
        assert rc == 1 and line.startswith('error=tls: '), line
    finally:
        s.close()


def test_handshake_timeout(pki):
    # a listener that never answers: the connect timeout covers the handshake
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(1)
    try:
        t0 = time.monotonic()
        rc, line = probe('--ca', pki['ec_ca'], '--timeout-ms', 300, '127.0.0.1', sock.getsockname()[1])
        assert rc == 1 and line == 'error=tls: handshake timeout', line
        assert time.monotonic() - t0 < 30
    finally:
        sock.close()


def test_openssl_s_server(pki):
    """A second TLS stack: `openssl s_server -www` answers HTTP/1.0 with a body until close."""
    cert, key = pki['rsa_leaf']
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    srv = subprocess.Popen(['openssl', 's_server', '-accept', '127.0.0.1:%d' % port, '-cert', cert, '-key', key,
                            '-www', '-quiet', '-tls1_2'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)    # polls inside a bounded wait for the port
        rc, line = probe('--ca', pki['rsa_ca'], '127.0.0.1', port)
        assert rc == 0, line
        f = ok_fields(line)
        assert f['status'] == '200' and int(f['body_bytes']) > 100
        rc, line = probe('--ca', pki['other_ca'], '127.0.0.1', port)
        assert line == 'error=tls: certificate signed by unknown authority'
    finally:
        srv.kill()
        srv.wait()
