"""app.memory: the demo caps glibc's malloc arenas so that its memory stays bounded under load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.__main__ import parse_args
from app.memory import _glibc

REPO = Path(__file__).resolve().parents[1]

# 16 threads alive at once, each allocating small blocks (below the mmap threshold, so from its
# arena); then glibc's malloc_stats() prints one "Arena N:" block per arena to stderr.
SCRIPT = """
import sys, threading, time
sys.path.insert(0, {repo!r})
from app.memory import _glibc, limit_native_heap
if sys.argv[1] == "on":
    assert limit_native_heap(2, trim_every=0.05)
gate = threading.Barrier(16)
def work():
    gate.wait()
    kept = [bytearray(1000 + 37 * i) for i in range(300)]
    gate.wait()
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.2)
print(sorted(t.name for t in threading.enumerate()))
_glibc().malloc_stats()
"""


def _arenas(mode: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=str(REPO)), mode], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return len(re.findall(r"^Arena \d+:", done.stderr, flags=re.M)), done.stdout


@pytest.mark.skipif(_glibc() is None, reason="malloc arenas are glibc's; this C library has none to cap")
def test_arenas_capped_and_trim_thread_running():
    uncapped, threads_off = _arenas("off")
    capped, threads_on = _arenas("on")
    assert uncapped > 2, f"16 threads got only {uncapped} arenas without the cap: the test shows nothing"
    assert capped <= 2
    assert "malloc-trim" in threads_on and "malloc-trim" not in threads_off


def test_malloc_arenas_option():
    assert parse_args([]).malloc_arenas == 2
    assert parse_args(["--malloc-arenas", "0"]).malloc_arenas == 0
