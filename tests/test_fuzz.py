"""The fuzz target on the decoding entry point, run for a bounded time (coverage-guided with
atheris when it is installed, plain random mutations otherwise): no crash, no hang, nothing
but AudioError out of load_audio/probe."""

import os
import subprocess
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_decode.py"
SECONDS = 20


def test_fuzz_decode_bounded_run(tmp_path):
    try:
        import atheris  # noqa: F401
        args = [f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=4096", "-max_len=65536",
                "-print_final_stats=1", f"-artifact_prefix={tmp_path}/"]
    except ImportError:
        args = ["--plain", str(SECONDS)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(FUZZ), *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=SECONDS + 90)
    log = out.stdout + out.stderr
    findings = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "slow-unit-"))]
    assert out.returncode == 0 and not findings, f"fuzzing found {findings}:\n{log[-3000:]}"
    assert "Done" in log or "no finding" in log, log[-2000:]
