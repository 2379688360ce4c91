"""Data layer speed: building the 4480-clip Dataset, and decoding it to 16 kHz mono.

(a) ``load_corpora(root)`` with header probing (the default) and with ``probe_audio=False``,
    best of 3 in one warm process, plus the first call (which pays the imports and a cold cache).
(b) Decoding every clip through the Dataset's ``Audio`` feature (torchcodec, 16 kHz mono) with
    ``Dataset.map(num_proc=2)`` and with one process; then the 37 release originals, whose
    decoding really resamples (24.4, 44.1, 48 and 96 kHz).
"""

from __future__ import annotations

import os
import time
import warnings

from .common import DATA, row, write

NAME = "data"


def _best_of(n: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def _decoded_lengths(batch: dict) -> dict:
    return {"samples": [int(a.get_all_samples().data.shape[1]) for a in batch["audio"]]}


def _decode_all(ds, num_proc: int | None) -> tuple[float, int, float]:
    """Seconds to decode every clip, the clip count, and the seconds of audio decoded."""
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    out = ds.select_columns(["audio"]).map(_decoded_lengths, batched=True, batch_size=64, num_proc=num_proc,
                                           remove_columns=["audio"], load_from_cache_file=False,
                                           keep_in_memory=True)
    seconds = time.perf_counter() - start
    samples = sum(out["samples"])
    return seconds, len(out), samples / 16000


def main() -> None:
    import datasets

    from ser_hf import load_corpora

    warnings.simplefilter("ignore")
    datasets.disable_progress_bars()
    root = DATA
    machine = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    rows = []

    start = time.perf_counter()
    ds = load_corpora(root)
    first = time.perf_counter() - start
    probed, ds = _best_of(3, lambda: load_corpora(root))
    listed, _ = _best_of(3, lambda: load_corpora(root, probe_audio=False))
    n = len(ds)
    assert n == 4480, n
    rows += [
        row(NAME, "build 4480-clip Dataset, header probing (best of 3)", round(probed, 3), "s", "<= 5 s",
            probed <= 5, f"{n / probed:.0f} clips/s; {machine}"),
        row(NAME, "build 4480-clip Dataset, probe_audio=False (best of 3)", round(listed, 3), "s", "<= 5 s",
            listed <= 5, f"{probed / listed:.1f}x faster than probing"),
        row(NAME, "build 4480-clip Dataset, first call in a process", round(first, 3), "s", None, None,
            "includes one-off imports (soundfile) and, on a fresh machine, a cold file cache"),
    ]
    print(*(f"{r['metric']}: {r['value']} {r['unit']}" for r in rows), sep="\n", flush=True)

    hours = sum(ds["duration"]) / 3600
    two, clips, audio_s = _decode_all(ds, num_proc=2)
    assert clips == n
    one, _, _ = _decode_all(ds, num_proc=None)
    rows += [
        row(NAME, "decode all 4480 clips to 16 kHz mono, map(num_proc=2)", round(clips / two, 1), "clips/s", None,
            None, f"{two:.1f} s for {audio_s / 3600:.2f} h of audio = {audio_s / two:.0f} s of audio per s; "
                  f"16 kHz FLAC, no resampling; 1 torch thread per process"),
        row(NAME, "decode all 4480 clips to 16 kHz mono, 1 process", round(clips / one, 1), "clips/s", None, None,
            f"{one:.1f} s = {audio_s / one:.0f} s of audio per s; num_proc=2 / 1 process speed ratio {one / two:.2f}"),
    ]
    assert abs(audio_s / 3600 - hours) < 0.01, (audio_s, hours)
    print(*(f"{r['metric']}: {r['value']} {r['unit']} ({r['notes']})" for r in rows[-2:]), sep="\n", flush=True)

    originals = load_corpora(root / "originals")
    seconds, result = _best_of(3, lambda: _decode_all(originals, num_proc=None))
    _, count, audio_s = result
    rates = sorted(set(originals["sampling_rate"]))
    rows.append(row(NAME, f"decode + resample the {count} release originals, 1 process (best of 3)",
                    round(count / seconds, 1), "clips/s", None, None,
                    f"{audio_s / seconds:.0f} s of audio per s; from {', '.join(str(r) for r in rates)} Hz, "
                    f"mono and stereo WAV/AIFF"))
    print(f"{rows[-1]['metric']}: {rows[-1]['value']} clips/s ({rows[-1]['notes']})")
    write(NAME, rows)


if __name__ == "__main__":
    main()
