"""Training throughput and peak GPU memory of finetune/train.py on one GPU, bf16 against fp32.

    python -m bench.gpu.throughput [--epochs 3] [--workers 8]

Two backbones through the one-GPU accelerate config (``finetune/accelerate/gpu.yaml``):
wav2vec2-base's architecture with random weights (none can be downloaded on the machine; speed
and memory do not depend on the weights) on 4 s crops, and whisper-tiny.en (``SER_WHISPER``) on
its 3 s window. Each trains ``--epochs`` epochs over RAVDESS with no evaluation; the rows give
Trainer's samples per second (first epoch's start-up included) and ``torch.cuda.max_memory_allocated``.
Writes ``bench/results/gpu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..common import DATA, RESULTS, row, write
from ..finetune import BACKBONE

ROOT = Path(__file__).resolve().parents[2]
NAME = "gpu"


def wav2vec2_base(folder: Path) -> Path:
    """wav2vec2-base's architecture (the Hub checkpoint's config is the default one), random weights."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    Wav2Vec2ForSequenceClassification(Wav2Vec2Config()).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(folder)
    return folder


def run(model: Path, seconds: float, precision: str, out: Path, epochs: int, workers: int, batch: int,
        extra=()) -> dict:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ROOT / "finetune/accelerate/gpu.yaml"),
           "--mixed_precision", precision, str(ROOT / "finetune/train.py"),
           "--model_name_or_path", str(model), "--data_root", str(DATA), "--corpora", "ravdess", "--label_set", "8",
           "--protocol", "none", "--max_length_seconds", str(seconds), "--num_train_epochs", str(epochs),
           "--per_device_train_batch_size", str(batch), "--dataloader_num_workers", str(workers),
           "--learning_rate", "5e-5", "--eval_strategy", "no", "--save_strategy", "no",
           "--load_best_model_at_end", "False", "--output_dir", str(out), *extra]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return json.loads((out / "all_results.json").read_text())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8, help="dataloader worker processes")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-train-samples", type=int, help="fewer clips (a dry run)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backbones = [("wav2vec2-base architecture, random init, 4 s crops", wav2vec2_base(Path(tmp) / "w2v2"), 4.0),
                     ("whisper-tiny.en, 3 s window", BACKBONE, 3.0)]
        for label, model, seconds in backbones:
            for precision in ("bf16", "no"):
                extra = ["--max_train_samples", str(args.max_train_samples)] if args.max_train_samples else []
                r = run(model, seconds, precision, Path(tmp) / f"{model.name}-{precision}", args.epochs, args.workers,
                        args.batch, extra)
                what = f"fine-tuning {label}, {'bf16' if precision == 'bf16' else 'fp32'}"
                note = (f"{r.get('gpu', '?')}; batch {args.batch}, {args.workers} dataloader workers, "
                        f"{r['train_samples']} RAVDESS clips x {args.epochs} epochs, start-up included; "
                        f"mixed precision {r.get('mixed_precision')}")
                rows.append(row(what, "training throughput", round(r["train_samples_per_second"], 1), "samples/s", notes=note))
                if "peak_gpu_memory_mb" in r:
                    rows.append(row(what, "peak GPU memory", round(r["peak_gpu_memory_mb"]), "MB",
                                    notes="torch.cuda.max_memory_allocated"))
    write(NAME, rows)
    out = os.environ.get("OUT")
    if out:
        Path(out, f"{NAME}.json").write_text((RESULTS / f"{NAME}.json").read_text())


if __name__ == "__main__":
    main()
