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


def write(name: str, rows: list[dict]) -> Path:
    """Write one benchmark's rows, with the machine they were measured on."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    for r in rows:
        r.setdefault("machine", machine)
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {path}")
    return path
