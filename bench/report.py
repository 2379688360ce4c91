"""Render every ``bench/results/*.json`` into the README table between the BENCH markers."""

from __future__ import annotations

import json
from pathlib import Path

from .common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- BENCH:START -->", "<!-- BENCH:END -->"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


USUAL = ("2 cores", "Python 3.11.7")  # what every CI-class machine we are lent has


def _machine_column(machine: str) -> str:
    """A row's machine without what they all share ("2 cores, AMD EPYC (AVX2), Python 3.11.7" -> "AMD EPYC
    (AVX2)"): figures differ by up to ~1.7x between the 2-core machines we are lent, by their CPU."""
    return " / ".join(", ".join(p for p in m.split(", ") if p not in USUAL) for m in machine.split(" / "))


def table() -> str:
    lines = ["| benchmark | metric | value | goal | met | machine | notes |", "|---|---|---|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        for r in json.loads(path.read_text()):
            met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
            lines.append(f"| {r['benchmark']} | {r['metric']} | {_fmt(r['value'])} {r['unit']} | "
                         f"{r.get('goal') or ''} | {met} | {_machine_column(r.get('machine', ''))} | {r.get('notes', '')} |")
    return "\n".join(lines)


def main() -> None:
    text = README.read_text()
    if START not in text:
        print(table())
        return
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{table()}\n{END}{tail}")
    print(f"updated {README}")


if __name__ == "__main__":
    main()
