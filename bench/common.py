"""What every benchmark shares: where results go and how a row looks."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DATA = Path(os.environ.get("SER_DATA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))


def row(benchmark: str, metric: str, value: float, unit: str, goal: str | None = None,
        met: bool | None = None, notes: str = "") -> dict:
    return {"benchmark": benchmark, "metric": metric, "value": value, "unit": unit,
            "goal": goal, "met": met, "notes": notes}


def _cpu() -> str:
    """The CPU's model name and widest vector instructions: the same 2-core figures differ by up to ~1.7x
    between the machines we are lent, and two of them both call themselves "AMD EPYC" (one with AVX-512,
    where the training of the shipped model took 438 s, one with AVX2 only, 592-707 s); the kernels
    differ too, so a seeded training run repeats bit for bit only on the same kind."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    return f"{name} ({isa})" if isa else name


def machine() -> str:
    """This machine as the rows name it: cores, CPU, Python."""
    return f"{os.cpu_count()} cores, {_cpu()}, Python {platform.python_version()}"


def write(name: str, rows: list[dict]) -> Path:
    """Write one benchmark's rows, with the machine they were measured on (rows that name theirs keep it)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    for r in rows:
        r.setdefault("machine", machine())
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {path}")
    return path
