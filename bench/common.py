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
    """The CPU's model name: the same 2-core figures differ by up to ~1.7x between the machines we are lent."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(name: str, rows: list[dict]) -> Path:
    """Write one benchmark's rows, with the machine they were measured on (rows that name theirs keep it)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    machine = f"{os.cpu_count()} cores, {_cpu()}, Python {platform.python_version()}"
    for r in rows:
        r.setdefault("machine", machine)
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {path}")
    return path
