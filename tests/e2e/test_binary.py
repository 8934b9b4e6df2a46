"""The release binary itself: static, runs in an empty root, flags behave."""
import os
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "cplane")


def run(args, env=None, timeout=10):
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=env if env is not None else {},
                          timeout=timeout)


def test_static_and_stripped():
    out = subprocess.run(["file", BIN], capture_output=True, text=True).stdout
    assert "statically linked" in out
    assert "stripped" in out and "not stripped" not in out


def test_version_with_empty_environment():
    r = run(["--version"], env={})
    assert r.returncode == 0
    assert r.stdout.startswith("cplane ")
    assert "commit " in r.stdout


def test_runs_in_empty_root():
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    d = tempfile.mkdtemp()
    try:
        shutil.copy(BIN, os.path.join(d, "cplane"))
        r = subprocess.run([shutil.which("chroot") or "/usr/sbin/chroot", d, "/cplane", "--version"], capture_output=True, text=True, env={},
                           timeout=10)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("cplane ")
    finally:
        shutil.rmtree(d)


def test_help_lists_modes_and_flags():
    r = run(["--help"])
    assert r.returncode == 0
    for word in ("--driver", "--version", "--listen", "--create-timeout", "--log-format", "--apiserver"):
        assert word in r.stdout


def test_unknown_flag_is_one_line_and_exit_2():
    r = run(["--no-such-flag"])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--no-such-flag" in lines[0]


def test_bad_flag_value_from_env_is_one_line_and_exit_2():
    r = run([], env={"CPLANE_MAX_REPLICAS": "many"})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "CPLANE_MAX_REPLICAS" in lines[0] and "max-replicas" in lines[0]
