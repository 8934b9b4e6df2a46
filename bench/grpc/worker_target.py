"""bench/grpc: the real worker as the server under test.

Starts kubesim (--instant) and build/cplane against it with the worker flags
given on the command line (e.g. --auth none), creates the cluster "demo" so
GetCluster has something to answer, then prints token=T (the bearer token
kubesim grants, when auth is on), pid=N (the worker's: bench/grpc/run
measures that process's CPU) and port=N, and waits for SIGTERM.
"""

import os
import signal
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))

from cplane_fixture import Client, POOL, start_worker  # noqa: E402
from kubesim_fixture import start_kubesim  # noqa: E402


def main():
    tmp = tempfile.mkdtemp(prefix='bench-grpc-worker-')
    sim = start_kubesim(os.path.join(tmp, 'ks'), '--instant', '--node', POOL)
    w = None
    try:
        w = start_worker(sim, tmp, *sys.argv[1:])
        c = Client(w.target)
        c.create('demo', replicas=1, image='nginx:1.25', timeout=60)
        c.close()
        if w.client_token:
            print('token=%s' % w.client_token)
        print('pid=%d' % w.proc.pid)
        print('port=%d' % w.port, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        if w:
            w.kill9()
        sim.stop()


if __name__ == '__main__':
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
