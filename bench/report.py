"""Render every ``bench/results/*.json`` into the README between the BENCH markers: a table per file."""

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


# What each results file measures, in the order a reader meets the product (a file not named here comes last).
SECTIONS = {
    "baseline": "the MFCC-CNN baseline: accuracy on unseen speakers, training time, latency, seed reproduction",
    "finetune": "the fine-tuned transformer: frozen references, recipes, folds and seeds (CPU and lent GPUs)",
    "gpu": "fine-tuning on a lent GPU: throughput, memory, bf16, multi-GPU launch",
    "inference": "inference: transformers on the CPU, long recordings, the demo's API",
    "data": "loading the corpora",
    "denoise": "noise reduction in the feature extractor",
    "load": "the demo under load",
    "load_10min": "the demo under load for 10 minutes (bounded malloc arenas)",
    "load_10min_glibc": "the demo under load for 10 minutes (glibc's default arenas, for comparison)",
    "api_memory": "the demo's memory per request",
}


def _rows(rows: list[dict]) -> list[str]:
    lines = ["| benchmark | metric | value | goal | met | machine | notes |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
        lines.append(f"| {r['benchmark']} | {r['metric']} | {_fmt(r['value'])} {r['unit']} | "
                     f"{r.get('goal') or ''} | {met} | {_machine_column(r.get('machine', ''))} | {r.get('notes', '')} |")
    return lines


def table() -> str:
    """One table per results file, under a heading that says what it measures (450 rows in one table hid
    the shipped figures among the candidates')."""
    order = list(SECTIONS)
    paths = sorted(RESULTS.glob("*.json"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    parts = []
    for path in paths:
        title = SECTIONS.get(path.stem, path.stem)
        parts += [f"### {title[0].upper()}{title[1:]} (`bench/results/{path.name}`)", "",
                  *_rows(json.loads(path.read_text())), ""]
    return "\n".join(parts).rstrip("\n")


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
