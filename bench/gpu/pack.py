"""Pack what a bare GPU machine needs into chunks small enough to send one by one.

    python -m bench.gpu.pack --data ../shared/corpora --backbone ../shared/models/whisper-tiny.en \
        --out .device --chunk-mb 36

The corpora are re-encoded as FLAC at the highest compression level: the same samples (it is
lossless, and ``tests``-style equality is checked on every file), about 20 % fewer bytes. Files
are kept whole and dealt into ``OUT/partN/pack.tar`` of at most ``--chunk-mb`` each, with the
backbone and the wheels the machine lacks first. On the machine, ``bench/gpu/device.sh unpack``
extracts whatever parts arrived into one folder tree (``corpora/``, ``backbone/``, ``wheels/``).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

# What the GPU image lacks for finetune/train.py and ser_hf (it has torch, transformers, accelerate,
# scikit-learn, pyarrow, pandas): the versions of constraints.txt, built for its Python 3.12.
WHEELS = ("datasets", "dill", "multiprocess", "soundfile", "soxr", "cffi", "pycparser")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def recompress(path: Path) -> bytes:
    """The file as FLAC at compression level 8, checked sample for sample against the original."""
    samples, rate = sf.read(path, dtype="int16", always_2d=True)
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, samples.shape[1], format="FLAC", subtype="PCM_16", compression_level=1.0) as f:
        f.write(samples)
    data = buffer.getvalue()
    again, _ = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    if not np.array_equal(again, samples):
        raise RuntimeError(f"{path}: FLAC round trip changed samples")
    return data


def pinned(name: str) -> str:
    for line in (Path(__file__).resolve().parents[2] / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{name.lower()}=="):
            return line.strip()
    raise SystemExit(f"{name} is not pinned in constraints.txt")


def download_wheels(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    for name in WHEELS:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(folder),
                        pinned(name)], check=True)
    return sorted(folder.glob("*.whl"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu.pack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="corpora root (RAVDESS/, TESS/, SAVEE/)")
    parser.add_argument("--corpora", nargs="*", default=["RAVDESS", "SAVEE", "TESS"])
    parser.add_argument("--backbone", type=Path, help="a model folder to send as backbone/")
    parser.add_argument("--extra", type=Path, nargs="*", default=[], help="other files to send (under extra/)")
    parser.add_argument("--out", type=Path, default=Path(".device"))
    parser.add_argument("--chunk-mb", type=float, default=36.0, help="MB per part: a call carries 64 MiB, the working tree (23 MB) included")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    items: list[tuple[str, bytes]] = []  # (name in the tar, content), in sending order
    for wheel in download_wheels(args.out / "wheels-cache"):
        items.append((f"wheels/{wheel.name}", wheel.read_bytes()))
    if args.backbone:
        items += [(f"backbone/{f.name}", f.read_bytes()) for f in sorted(args.backbone.iterdir()) if f.is_file()]
    items += [(f"extra/{f.name}", f.read_bytes()) for f in args.extra]
    files = [f for c in args.corpora for f in sorted((args.data / c).rglob("*")) if f.is_file()]
    before = sum(f.stat().st_size for f in files)
    with ProcessPoolExecutor(args.jobs) as pool:
        for f, data in zip(files, pool.map(recompress, files, chunksize=32)):
            items.append((f"corpora/{f.relative_to(args.data).as_posix()}", data))
    after = sum(len(d) for n, d in items if n.startswith("corpora/"))
    print(f"{len(files)} audio files: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB as FLAC level 8 (same samples)")

    limit, parts, size = args.chunk_mb * 1e6, [[]], 0
    for name, data in items:
        if size + len(data) + 1024 > limit and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append((name, data))
        size += len(data) + 1024
    for i, part in enumerate(parts, 1):
        folder = args.out / f"part{i}"
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / "pack.tar", "w") as tar:
            for name, data in part:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        print(f"{folder}/pack.tar: {len(part)} files, {(folder / 'pack.tar').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
