"""``ser data summary ROOT``: what the corpora under ROOT hold, before any training."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from ..taxonomy import LABEL_SETS


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="inspect the emotion corpora")
    actions = parser.add_subparsers(dest="data_command", required=True)
    summary = actions.add_parser(
        "summary",
        help="clips per corpus and emotion, speakers and hours",
        description="Count clips per corpus and emotion, speakers and hours of the corpora under ROOT "
                    "(sub-folders RAVDESS, CREMA-D, TESS, SAVEE in any case), or of ROOT itself when it "
                    "is one corpus's folder.",
    )
    summary.add_argument("root", type=Path, help="folder holding the corpus folders")
    summary.add_argument("--label-set", default="7", choices=sorted(LABEL_SETS, key=int, reverse=True),
                         help="emotion label set (default 7: calm merged into neutral)")
    summary.add_argument("--include-song", action="store_true", help="also count RAVDESS song files")
    summary.add_argument("--no-probe", action="store_true",
                         help="do not read audio headers (faster; hours unknown, unreadable files kept)")
    summary.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    summary.add_argument("--plot", type=Path, metavar="FILE.png", help="also write a class-distribution bar chart")
    summary.set_defaults(func=run_summary)


def _load(root: Path, label_set: str, probe_audio: bool, include_song: bool):
    from ..corpora import CORPORA, find_corpora, load_corpora, load_corpus

    options = {"label_set": label_set, "probe_audio": probe_audio, "include_song": include_song}
    if root.is_dir() and not find_corpora(root):
        # ROOT may be one corpus's own folder (``.../RAVDESS``) rather than their parent.
        for corpus in CORPORA.values():
            if root.name.lower() in {f.lower() for f in (corpus.folder, *corpus.aliases)}:
                if corpus.name != "ravdess":
                    options.pop("include_song")
                return load_corpus(corpus.name, root, **options)
    return load_corpora(root, **options)


def run_summary(args) -> int:
    from ..summary import format_table, plot_distribution, summarize

    with warnings.catch_warnings(record=True) as caught:
        # Skipped files are already logged by the loader (one line per corpus); keep the details for --json.
        warnings.simplefilter("always")
        ds = _load(args.root, args.label_set, not args.no_probe, args.include_song)
    skipped = {}
    for w in caught:
        skipped.update(getattr(w.message, "skipped", {}))
    summary = summarize(ds)
    print(format_table(summary))
    if skipped:
        print(f"ser: {len(skipped)} file(s) skipped; --json FILE lists them with the reasons", file=sys.stderr)
    if args.json:
        record = {"root": str(args.root.absolute()), "label_set": args.label_set, **summary, "skipped": skipped}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_distribution(summary, args.plot)}")
    return 0
