"""What a loaded corpus Dataset holds: clips per corpus and emotion, speakers, hours.

One function counts (:func:`summarize`), the others only present its dict (a text table, a bar
chart), so the CLI, the demo and the docs show the same figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import datasets

_COLUMNS = ["corpus", "emotion", "speaker", "duration"]


def _emotion_names(ds: datasets.Dataset, values: list) -> list[str]:
    feature = ds.features["emotion"]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return sorted({str(v) for v in values})


def _block(emotions: list[str], labels: list[str], speakers: list[str], durations: list) -> dict:
    counts = Counter(labels)
    # Durations are None when the set was built with probe_audio=False: then hours are unknown.
    known = [d for d in durations if d is not None]
    hours = sum(known) / 3600 if durations and len(known) == len(durations) else None
    return {
        "counts": {name: counts.get(name, 0) for name in emotions},
        "clips": len(labels),
        "speakers": len(set(speakers)),
        "hours": hours,
    }


def summarize(ds: datasets.Dataset) -> dict:
    """Counts of ``ds`` (a :func:`ser_hf.load_corpora` Dataset, or any selection of it).

    Returns ``{"emotions": [...], "corpora": {corpus: block}, "total": block}`` where a block is
    ``{"counts": {emotion: clips}, "clips": int, "speakers": int, "hours": float | None}``;
    corpora appear in the order they first occur in ``ds``.
    """
    missing = [c for c in _COLUMNS if c not in ds.column_names]
    if missing:
        raise ValueError(f"not a corpus Dataset: it lacks the column(s) {', '.join(missing)}")
    columns = ds.select_columns(_COLUMNS).to_dict()
    raw = columns["emotion"]
    emotions = _emotion_names(ds, raw)
    labels = [emotions[v] if isinstance(v, int) else str(v) for v in raw]
    corpora = {}
    for name in dict.fromkeys(columns["corpus"]):
        rows = [i for i, c in enumerate(columns["corpus"]) if c == name]
        corpora[name] = _block(
            emotions,
            [labels[i] for i in rows],
            [columns["speaker"][i] for i in rows],
            [columns["duration"][i] for i in rows],
        )
    total = _block(emotions, labels, columns["speaker"], columns["duration"])
    return {"emotions": emotions, "corpora": corpora, "total": total}


def format_table(summary: dict) -> str:
    """The summary as a fixed-width text table: one row per corpus and a total row."""
    emotions = summary["emotions"]
    header = ["corpus", *emotions, "clips", "speakers", "hours"]

    def cells(name: str, block: dict) -> list[str]:
        hours = "?" if block["hours"] is None else f"{block['hours']:.2f}"
        return [name, *(str(block["counts"][e]) for e in emotions), str(block["clips"]),
                str(block["speakers"]), hours]

    body = [cells(name, block) for name, block in summary["corpora"].items()]
    body.append(cells("total", summary["total"]))
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:]))])

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *(line(r) for r in body[:-1]), rule, line(body[-1])])


def plot_distribution(summary: dict, path) -> Path:
    """Write a grouped bar chart of clips per emotion, one bar colour per corpus, to ``path``.

    Uses ``matplotlib.figure.Figure`` directly (no pyplot), so it needs no display and leaves
    the process's matplotlib backend alone.
    """
    import numpy as np
    from matplotlib.figure import Figure

    path = Path(path)
    emotions = summary["emotions"]
    corpora = summary["corpora"]
    x = np.arange(len(emotions))
    width = 0.8 / max(len(corpora), 1)
    fig = Figure(figsize=(max(6.0, 1.1 * len(emotions) + 2), 4.0), layout="constrained")
    ax = fig.subplots()
    for i, (name, block) in enumerate(corpora.items()):
        offset = (i - (len(corpora) - 1) / 2) * width
        ax.bar(x + offset, [block["counts"][e] for e in emotions], width,
               label=f"{name} ({block['clips']} clips, {block['speakers']} speakers)")
    ax.set_xticks(x, emotions)
    ax.set_ylabel("clips")
    ax.set_title(f"Clips per emotion ({summary['total']['clips']} in all)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
