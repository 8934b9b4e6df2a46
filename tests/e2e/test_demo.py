"""`make demo` (scripts/demo.sh): kubesim + the worker over TLS + `cplane --driver`,
the reference's four lines in order, well under a minute, everything stopped."""
import os
import re
import subprocess

from cplane_fixture import BIN, ROOT

FOUR = [
    r'msg="Creating cluster" name=demo replicas=30$',
    r'msg="Created cluster" name=demo replicas=30 took=\d[\dhms.u]*s$',
    r'msg="Deleting cluster" name=demo$',
    r'msg="Deleted cluster" name=demo took=\d[\dhms.u]*s$',
]


def test_demo_prints_the_four_lines_in_order():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BIN": BIN}
    p = subprocess.run(["sh", "scripts/demo.sh"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    text = p.stdout + p.stderr
    assert p.returncode == 0, text
    lines = [ln for ln in text.splitlines() if re.search(r'msg="(Creat|Delet)(ing|ed) cluster"', ln)]
    assert len(lines) == 4, text
    for ln, pat in zip(lines, FOUR):
        assert re.match(r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=info ', ln), ln
        assert re.search(pat, ln), ln
    assert "demo:" not in text, "the script reported a failure"
