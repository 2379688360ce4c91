"""``ser predict MODEL PATH...``: emotion probabilities for audio files and folders.

Every input gets a row: its probabilities, or the problem that made it unusable. The run never
stops at a broken file; it exits 1 when any input failed, so scripts notice.

A speaker-adaptive model (``models/ser-mfcc-cnn-adaptive``) takes the speaker's statistics from
``--speaker-clips``, or else from all the input clips (one speaker assumed); with ``--long`` each
recording adapts to itself.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict the emotion of audio files",
        description="Predict the emotion of each audio file (folders are searched recursively) with a saved "
                    "model: a folder written by save_pretrained or a Hugging Face Hub id. With --long, each "
                    "file is split into speech segments and an emotion timeline is written instead.",
    )
    parser.add_argument("model", help="model folder (e.g. models/ser-mfcc-cnn) or Hub id")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    parser.add_argument("--long", action="store_true",
                        help="long recordings: split into speech segments and write a timeline per file")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default: table)")
    parser.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per forward pass (default 16)")
    parser.add_argument("--max-duration", type=float, default=60.0,
                        help="longest clip accepted without --long, in seconds (default 60)")
    parser.add_argument("--speaker-clips", nargs="+", type=Path, metavar="PATH",
                        help="speaker-adaptive models: clips or folders of the speaker to adapt to (default: the "
                             "input clips themselves; with --long, each recording adapts to itself)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--runtime", choices=("auto", "onnx", "torch"), default="auto",
                        help="what runs the model: auto (default) runs a per-clip MFCC-CNN on the CPU in ONNX Runtime, "
                             "the same answers about 1.4x faster, and every other model in PyTorch")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")
    parser.set_defaults(func=run)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, and every audio file under each folder (sorted); missing paths kept to be reported."""
    from ..audio import AUDIO_EXTENSIONS
    from ..corpora._base import find_audio

    found = []
    for path in paths:
        if path.is_dir():
            inside = find_audio(path)
            if not inside:
                print(f"ser: warning: {path}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder",
                      file=sys.stderr)
            found.extend(inside)
        else:
            found.append(path)
    return found


def run(args) -> int:
    from tqdm import tqdm
    from transformers.utils import logging as hf_logging

    from ..errors import AudioError
    from ..inference import EmotionRecognizer

    hf_logging.disable_progress_bar()  # one progress bar, ours
    recognizer = EmotionRecognizer.from_pretrained(args.model, device=args.device, batch_size=args.batch_size,
                                                   max_duration=args.max_duration, runtime=args.runtime)
    files = expand(args.paths)
    speaker = None
    if recognizer.adaptive and (args.speaker_clips or not args.long):
        speaker = enrol(recognizer, expand(args.speaker_clips) if args.speaker_clips else files,
                        "--speaker-clips" if args.speaker_clips else "the input clips")
    elif args.speaker_clips:
        print(f"ser: error: --speaker-clips: {recognizer.name} does not adapt to the speaker", file=sys.stderr)
        return 2
    progress = tqdm(total=len(files), unit="file", file=sys.stderr, disable=args.no_progress or None)
    results = []
    if args.long:
        for path in files:
            try:
                results.append((path, recognizer.timeline(path, batch_size=args.batch_size, speaker=speaker)))
            except AudioError as exc:
                results.append((path, exc))
            progress.update()
    else:
        for path, result in recognizer.iter_predict(files, args.batch_size, speaker=speaker):
            results.append((path, result))
            progress.update()
    progress.close()

    failed = [(p, r) for p, r in results if isinstance(r, AudioError)]
    for path, error in failed:
        print(f"ser: skipped {error}", file=sys.stderr)
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        write = {"table": write_table, "csv": write_csv, "json": write_json}[args.format]
        write(out, results, recognizer.labels, args.long)
    finally:
        if args.output:
            out.close()
    if failed:
        print(f"ser: {len(failed)} of {len(results)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def enrol(recognizer, clips: list[Path], origin: str):
    """The speaker statistics of a speaker-adaptive model from ``clips``, saying how much speech they hold."""
    stats = recognizer.speaker_statistics(clips)
    seconds = recognizer.speech_seconds(stats)
    print(f"ser: adapting to one speaker: statistics from {origin} ({seconds:.0f} s of speech)", file=sys.stderr)
    if seconds < 60:
        print(f"ser: warning: only {seconds:.0f} s of the speaker's speech; the adaptive model needs about a minute "
              "(20 clips) to reach its benchmark accuracy", file=sys.stderr)
    return stats


def _rows(results, long: bool):
    """Flat rows: one per file, or one per segment with --long; errors as a row with ``error``."""
    from ..errors import AudioError

    for path, result in results:
        if isinstance(result, AudioError):
            yield {"path": str(path), "error": result.problem}
        elif long:
            for segment in result:
                yield {"path": str(path), **segment}
        else:
            best = max(result, key=result.get)
            yield {"path": str(path), "emotion": best, "score": result[best], "probabilities": result}


def write_json(out, results, labels, long: bool) -> None:
    from ..errors import AudioError

    records = []
    for path, result in results:
        if isinstance(result, AudioError):
            records.append({"path": str(path), "error": result.problem})
        elif long:
            records.append({"path": str(path), "timeline": result})
        else:
            records.extend(_rows([(path, result)], long))
    json.dump(records, out, indent=2)
    out.write("\n")


def write_csv(out, results, labels, long: bool) -> None:
    head = ["path"] + (["start", "end"] if long else []) + ["emotion", "score"] + list(labels) + ["error"]
    writer = csv.DictWriter(out, fieldnames=head, extrasaction="ignore")
    writer.writeheader()
    for row in _rows(results, long):
        flat = {k: v for k, v in row.items() if k != "probabilities"}
        flat.update({label: f"{p:.4f}" for label, p in row.get("probabilities", {}).items()})
        if "score" in flat:
            flat["score"] = f"{flat['score']:.4f}"
        writer.writerow(flat)


def write_table(out, results, labels, long: bool) -> None:
    short = [label[:7] for label in labels]
    head = ["path"] + (["start", "end"] if long else []) + ["emotion", "score"] + short
    lines = []
    for row in _rows(results, long):
        if "error" in row:
            lines.append([row["path"]] + (["", ""] if long else []) + [f"ERROR: {row['error']}"])
            continue
        times = [f"{row['start']:.2f}", f"{row['end']:.2f}"] if long else []
        probs = [f"{row['probabilities'][label]:.2f}" for label in labels]
        lines.append([row["path"]] + times + [row["emotion"], f"{row['score']:.2f}"] + probs)
    widths = [len(h) for h in head]
    for line in lines:
        cells = line[:-1] if line[-1].startswith("ERROR") else line  # a long message spans the columns
        widths = [max(w, len(c)) for w, c in zip(widths, cells)] + widths[len(cells):]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), file=out)
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths + [0])).rstrip(), file=out)
