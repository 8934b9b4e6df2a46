#!/usr/bin/python3
"""Callgrind profiles of the real worker under worker_bench.py's load, for callgrind_annotate.

    /usr/bin/python3 bench/grpc/worker_profile.py [RUNS] [CALLS]

RUNS (comma-separated, default all): none (--auth none), auth (43-byte bearer token, cache warm), jwt
(1,000-byte token), hdr / hdrjwt (--auth none, the same authorization header sent anyway).  Links an
unstripped copy of build/cplane from the release objects (build/bench/grpc/cplane.syms), runs each under
`valgrind --tool=callgrind --dump-instr=no` twice, for 2,000 and 2,000 + CALLS (default 10,000) calls
of h2load 1x100, prints ir_per_call_<run> (the difference over CALLS, as worker_bench.py does) and
leaves build/bench/grpc/prof/cg.<run>.<calls> for
`callgrind_annotate --inclusive=yes`: per-function figures are the difference of the two files over CALLS.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worker_bench as wb  # noqa: E402
from kubesim_fixture import start_kubesim  # noqa: E402

RUNS = {"none": (False, None), "auth": (True, wb.TOKEN), "jwt": (True, wb.JWT),
        "hdr": (False, wb.TOKEN), "hdrjwt": (False, wb.JWT)}


def link_unstripped():
    subprocess.run(["make", "-s", "-j2", "build/cplane"], cwd=wb.ROOT, check=True)
    objs = subprocess.run(["make", "-s", "--eval=print-objs: ; @echo $(REL_OBJS)", "print-objs"], cwd=wb.ROOT,
                          check=True, capture_output=True, text=True).stdout.split()
    out = os.path.join(wb.OUT, "cplane.syms")
    subprocess.run(["musl-gcc", "-static", "-Wl,--gc-sections", "-Lbuild/deps/lib", "-o", out,
                    "build/rel/src/main.o"] + objs + ["-lbearssl", "-lprotobuf-c", "-lpthread"], cwd=wb.ROOT, check=True)
    return out


def main():
    runs = sys.argv[1].split(",") if len(sys.argv) > 1 else list(RUNS)
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    prof = os.path.join(wb.OUT, "prof")
    os.makedirs(prof, exist_ok=True)
    with open(os.path.join(wb.OUT, "body"), "wb") as f:
        f.write(b"\x00\x00\x00\x00\x06\x0a\x04demo")
    wb.BIN = link_unstripped()
    sim = start_kubesim(os.path.join(wb.OUT, "kubesim-prof"), "--instant", "--client-token", wb.TOKEN)
    try:
        code, _ = sim.deployment("demo", replicas=1)
        assert code == 201, code
        sim.auth(add_users=[{"token": wb.JWT, "username": "system:serviceaccount:default:bench-jwt",
                             "groups": ["system:authenticated"], "audiences": ["cplane"]}],
                 add_rules=[{"users": ["system:serviceaccount:default:bench-jwt"], "verbs": ["get"],
                             "apiGroups": ["cplane.dev"], "resources": ["clusters"], "namespace": "default",
                             "names": []}])
        for run in runs:
            auth, tok = RUNS[run]
            ir = {}
            for n in (2000, 2000 + calls):
                f = os.path.join(prof, "cg.%s.%d" % (run, n))
                proc, port = wb.start_worker(sim, auth, wrap=("valgrind", "--tool=callgrind", "--dump-instr=no",
                                                              "--callgrind-out-file=" + f))
                try:
                    wb.h2load(port, 1, 100, n, tok)
                finally:
                    wb.stop(proc)
                with open(f) as fh:
                    for line in fh:
                        if line.startswith("summary:") or line.startswith("totals:"):
                            ir[n] = int(line.split()[1])
            print("ir_per_call_%s=%.0f" % (run, (ir[2000 + calls] - ir[2000]) / calls), flush=True)
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
