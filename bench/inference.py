"""Inference speed: the demo's API under load, an hour-long recording, and transformers on CPU.

    python -m bench inference            # or: python -m bench.inference api timeline timeline_adaptive transformers

Every figure is measured with ``SER_BENCH_THREADS`` torch threads (default 1) on the machine's cores.

1. API latency: ``python -m app`` serving the baseline on loopback in its own process, 8 clients
   sending a 5 s clip at once, 24 requests each, two ways in alternating rounds: gradio_client on
   ``/predict`` (upload, queue, event stream) and one POST of the file to ``/v1/predict``; p50
   and p95 of what a client waits.
2. A 60-minute recording to an emotion timeline with the baseline, in a fresh
   process (its peak memory is reported: it stays bounded because the file is streamed).
   The recording is made of real clips (RAVDESS, TESS, SAVEE) with pauses, written to a temp file.
   ``timeline_adaptive``: the same with the speaker-adaptive baseline, which also gathers the
   recording's statistics as it goes (the hour holds many speakers: a cost figure, not an accuracy one).
3. A 3 s clip through a transformer on CPU: the shipped Whisper model and the wav2vec2-base
   architecture (random weights: the speed is the architecture's), each in PyTorch, in ONNX
   Runtime (fp32) and in two int8 versions (see ``_export``), at 1 thread and at all cores; the
   model's forward pass only (features computed beforehand), median of 30 runs, with the
   probabilities' largest difference from PyTorch's and the top-1 agreement on 40 real clips.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ser_hf.onnx_runtime import export_logits

from .common import DATA, row, write

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "models" / "ser-mfcc-cnn"
ADAPTIVE = REPO / "models" / "ser-mfcc-cnn-adaptive"
WHISPER = REPO / "models" / "ser-whisper-tiny"
WHISPER_BACKBONE = REPO.parent / "shared" / "models" / "whisper-tiny.en"
# torch threads per process (per request in the app). One by default: on a shared 2-core machine two
# intra-op threads contend with everything else (the baseline's timeline ran 8x slower with 2 than with 1).
THREADS = int(os.environ.get("SER_BENCH_THREADS", 1))


def _clips(n: int, seed: int = 0) -> list[Path]:
    files = sorted(DATA.glob("RAVDESS/*/*.flac")) + sorted(DATA.glob("TESS/*/*.flac")) + sorted(DATA.glob("SAVEE/*.flac"))
    if not files:
        raise SystemExit(f"no corpora under {DATA}; set SER_DATA")
    rng = np.random.default_rng(seed)
    return [files[i] for i in rng.choice(len(files), size=min(n, len(files)), replace=False)]


def _speech(seconds: float) -> np.ndarray:
    from ser_hf.audio import load_audio

    parts, total = [], 0
    for path in _clips(20, seed=1):
        audio = load_audio(str(path))
        parts.append(audio)
        total += len(audio)
        if total >= seconds * 16000:
            break
    return np.concatenate(parts)[: int(seconds * 16000)]


# -- 1. API latency ---------------------------------------------------------------------------

def _serve(model_path: Path, folder: Path):
    """``python -m app`` serving ``model_path`` alone on a free loopback port, as users start it
    (its own process: clients and server do not share one interpreter's lock). Returns (process, url)."""
    from .load import serve

    process, url = serve(["--baseline", str(model_path), "--transformer", str(folder / "no-transformer"),
                          "--threads", str(THREADS)], folder / "app.log")
    return process, url.rstrip("/")


def api_latency(model_path: Path, clients: int = 8, requests: int = 24) -> list[dict]:
    """p50/p95 with ``clients`` concurrent clients, two ways in alternating rounds on one server:
    gradio_client on ``/predict`` (upload, queue, event stream) and one POST to ``/v1/predict``."""
    import httpx
    import soundfile as sf
    import torch
    from gradio_client import Client, handle_file

    from ser_hf.inference import EmotionRecognizer

    folder = Path(tempfile.mkdtemp())
    clip = folder / "clip5s.wav"
    sf.write(clip, _speech(5.0), 16000)
    body = clip.read_bytes()
    load = os.getloadavg()[0]  # other work on the machine, said beside the figures
    process, url = _serve(model_path, folder)
    try:
        gradio = [Client(url + "/", verbose=False, download_files=False) for _ in range(clients)]
        rest = [httpx.Client(timeout=60) for _ in range(clients)]

        def call(kind: str, i: int):
            if kind == "gradio":
                return gradio[i].predict(handle_file(str(clip)), api_name="/predict")
            response = rest[i].post(f"{url}/v1/predict", content=body)
            response.raise_for_status()
            return response.json()

        for i in range(2):  # warm up: first-call costs (lazy imports, the model's first run)
            for kind in ("gradio", "rest"):
                call(kind, i)
        latencies = {"gradio": [], "rest": []}
        errors = {"gradio": [], "rest": []}
        walls = {"gradio": 0.0, "rest": 0.0}
        for _ in range(2):  # alternate, so both see the same machine
            for kind in ("gradio", "rest"):
                gate = threading.Barrier(clients)

                def worker(i, kind=kind, gate=gate):
                    gate.wait()
                    for _ in range(requests // 2):
                        t = time.perf_counter()
                        try:
                            call(kind, i)
                            latencies[kind].append(time.perf_counter() - t)
                        except Exception as exc:  # counted, not hidden
                            errors[kind].append(str(exc))

                threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
                began = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                walls[kind] += time.perf_counter() - began
        single = {kind: [] for kind in latencies}
        for _ in range(15):
            for kind in single:
                t = time.perf_counter()
                call(kind, 0)
                single[kind].append(time.perf_counter() - t)
    finally:
        process.terminate()
        process.wait(timeout=30)
    torch.set_num_threads(THREADS)
    recognizer = EmotionRecognizer.from_pretrained(model_path, device="cpu")
    for _ in range(3):
        recognizer.predict(clip)
    t = time.perf_counter()
    for _ in range(20):
        recognizer.predict(clip)
    library_ms = (time.perf_counter() - t) / 20 * 1000
    rows = []
    for kind, label in (("gradio", "api /predict via gradio_client (upload, queue, event stream), 8 clients"),
                        ("rest", "api POST /v1/predict (one request, file as body), 8 clients")):
        ms = sorted(x * 1000 for x in latencies[kind])
        p50, p95 = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
        note = (f"{recognizer.name}; python -m app in its own process, {clients} concurrent clients x {requests} "
                f"requests, 5 s WAV clip, server concurrency {os.cpu_count()}, torch {THREADS} thread(s); "
                f"{len(errors[kind])} errors; {len(ms) / walls[kind]:.1f} requests/s; one client alone: p50 "
                f"{np.percentile(single[kind], 50) * 1000:.0f} ms; library predict() alone {library_ms:.1f} ms; "
                f"clients and server share the {os.cpu_count()} cores; load average {load:.1f} before the run")
        rows += [row(label, "latency p50", round(p50, 1), "ms", None, None, note),
                 row(label, "latency p95", round(p95, 1), "ms", "<= 150 ms", p95 <= 150, note)]
    return rows


# -- 2. An hour-long recording ------------------------------------------------------------------

def _timeline_in_fresh_process(model_path: str, recording: str, queue) -> None:
    import torch

    torch.set_num_threads(THREADS)
    from ser_hf.inference import EmotionRecognizer

    recognizer = EmotionRecognizer.from_pretrained(model_path, device="cpu")
    warm = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    speaker = recognizer.speaker_statistics([warm], sr=16000) if recognizer.adaptive else None
    recognizer.predict_arrays([warm], speaker=speaker)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    rows = recognizer.timeline(recording)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": seconds, "segments": len(rows), "rss_before_mb": before / 1024,
               "rss_peak_mb": after / 1024, "name": recognizer.name})


def hour_timeline(model_path: Path, minutes: float = 60.0, label: str = "") -> list[dict]:
    import soundfile as sf

    from ser_hf.audio import load_audio

    folder = Path(tempfile.mkdtemp())
    recording = folder / "hour.flac"
    target = int(minutes * 60 * 16000)
    clips = [load_audio(str(p)) for p in _clips(400, seed=2)]
    pause_rng = np.random.default_rng(3)
    with sf.SoundFile(recording, "w", samplerate=16000, channels=1, subtype="PCM_16") as out:
        written, i = 0, 0
        while written < target:
            clip = clips[i % len(clips)]
            pause = np.zeros(int(pause_rng.uniform(0.3, 2.0) * 16000), np.float32)
            piece = np.concatenate([clip, pause])[: target - written]
            out.write(piece)
            written += len(piece)
            i += 1
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_timeline_in_fresh_process, args=(str(model_path), str(recording), queue))
    process.start()
    deadline = time.monotonic() + 1800
    while True:  # a child that dies (its traceback is on stderr) must not leave this waiting half an hour
        try:
            result = queue.get(timeout=5)
            break
        except Exception:  # queue.Empty
            if not process.is_alive() or time.monotonic() > deadline:
                process.kill()
                recording.unlink()
                raise SystemExit(f"the timeline process for {model_path} ended without a result (exit code "
                                 f"{process.exitcode}); see its traceback above")
    process.join()
    recording.unlink()
    note = (f"{result['name']}; {minutes:.0f} min FLAC of {i} real clips with 0.3-2 s pauses; torch {THREADS} threads; "
            f"{result['segments']} segments; peak RSS {result['rss_peak_mb']:.0f} MB "
            f"({result['rss_peak_mb'] - result['rss_before_mb']:+.0f} MB during the timeline; the decoded hour "
            f"would be {target * 4 / 2**20:.0f} MB)")
    benchmark = "60-minute recording -> timeline" + label
    return [row(benchmark, "wall time", round(result["seconds"], 1), "s", "<= 60 s", result["seconds"] <= 60, note),
            row(benchmark, "real-time factor", round(minutes * 60 / result["seconds"], 1), "x", None, None, note)]


# -- 3. Transformers on CPU: PyTorch, ONNX Runtime, int8 ----------------------------------------

def _time(fn, runs: int = 30) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _export(model, inputs: dict, folder: Path, calibration: list[np.ndarray]) -> dict[str, Path]:
    """The model as ONNX: fp32, and two int8 versions made with ONNX Runtime's quantisation tools.

    ``int8 dynamic`` quantises the MatMuls' weights, activations at run time (the transformer
    layers). Dynamic int8 convolutions (ConvInteger) are slower than fp32 ones on CPU, so the
    convolutional front end (wav2vec2's seven conv layers, a third of its time; Whisper's two) is
    quantised statically instead in ``int8 static conv + dynamic``: activation ranges calibrated
    on ``calibration`` (real clips, not those the agreement is measured on), QDQ format.
    """
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                         quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path = folder / "model.onnx"

    (name, tensor), = inputs.items()
    export_logits(model, tensor, str(path), input_name=name)
    prepared = folder / "model.pre.onnx"
    quant_pre_process(str(path), str(prepared))
    dynamic = folder / "model.int8-dynamic.onnx"
    quantize_dynamic(str(prepared), str(dynamic), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter({name: c} for c in calibration)

        def get_next(self):
            return next(self.feeds, None)

    conv = folder / "model.int8-conv.onnx"
    quantize_static(str(prepared), str(conv), Calibration(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    both = folder / "model.int8-conv-dynamic.onnx"
    quantize_dynamic(str(conv), str(both), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    return {"ONNX Runtime fp32": path, "ONNX Runtime int8 dynamic": dynamic,
            "ONNX Runtime int8 static conv + dynamic": both}


def transformer_cpu(label: str, model, feature_extractor, goal_ms: float, clips: list[np.ndarray],
                    calibration: list[np.ndarray], trained: bool = True) -> list[dict]:
    """Median latency of the forward pass on a 3 s clip at 1 thread and at all cores, per runtime,
    with each ONNX version's agreement with PyTorch on ``clips``."""
    import onnxruntime as ort
    import torch

    model.eval()
    sr = feature_extractor.sampling_rate

    def features(audio):
        return {k: v for k, v in feature_extractor(audio, sampling_rate=sr, return_tensors="pt").items()
                if k != "attention_mask"}

    clip = _speech(3.0)
    inputs = features(clip)
    (name, tensor), = inputs.items()
    fe_ms = _time(lambda: features(clip))
    folder = Path(tempfile.mkdtemp())
    paths = _export(model, inputs, folder, [features(c)[name].numpy() for c in calibration])
    with torch.inference_mode():
        reference = [model(**features(c)).logits.softmax(-1).numpy() for c in clips]
    thread_counts = sorted({THREADS, os.cpu_count() or 1})
    results = {}  # (kind, threads) -> (ms, largest probability difference, top-1 agreement)
    for threads in thread_counts:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            results["PyTorch", threads] = (_time(lambda: model(**inputs)), 0.0, 1.0)
        for kind, path in paths.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {name: tensor.numpy()}
            ms = _time(lambda: session.run(None, feed))
            diffs, agree = [], []
            for c, ref in zip(clips, reference):
                logits = session.run(None, {name: features(c)[name].numpy()})[0]
                probs = np.exp(logits - logits.max(-1, keepdims=True))
                probs /= probs.sum(-1, keepdims=True)
                diffs.append(float(np.abs(probs - ref).max()))
                agree.append(int(probs.argmax() == ref.argmax()))
            results[kind, threads] = (ms, max(diffs), float(np.mean(agree)))
    torch.set_num_threads(THREADS)
    rows = []
    for (kind, threads), (ms, diff, agree) in results.items():
        torch_ms = results["PyTorch", threads][0]
        window = getattr(feature_extractor, "n_samples", None)
        padded = f", padded to the model's {window / sr:g} s window" if window else ""
        note = (f"forward pass of a 3 s clip ({name} {tuple(tensor.shape)}{padded}), median of 30, {threads} thread(s) "
                f"on {os.cpu_count()} cores; feature extraction adds {fe_ms:.1f} ms")
        if kind != "PyTorch":
            note += (f"; {torch_ms / ms:.2f}x PyTorch's speed at {threads} thread(s); largest probability difference "
                     f"from PyTorch {diff:.4f} on {len(clips)} real clips, same top emotion on {agree:.0%}"
                     + ("" if trained else " (random weights: near-uniform probabilities make this a weak check)")
                     + f"; file {paths[kind].stat().st_size / 2**20:.1f} MB")
        rows.append(row(f"{label}, 3 s clip, CPU", f"latency ({kind}, {threads} thread{'s' * (threads > 1)})",
                        round(ms, 1), "ms", f"<= {goal_ms:g} ms", ms <= goal_ms, note))
    return rows


def _whisper():
    """The shipped model; before it exists, the Whisper tiny.en backbone cut to a 3 s window (same compute)."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    if WHISPER.is_dir():
        return "shipped Whisper (ser-whisper-tiny)", AutoModelForAudioClassification.from_pretrained(
            WHISPER, use_safetensors=True), AutoFeatureExtractor.from_pretrained(WHISPER)
    from ser_hf.models.whisper_clip import fit_window
    from ser_hf.taxonomy import label_names

    names = label_names("7")
    model = AutoModelForAudioClassification.from_pretrained(
        WHISPER_BACKBONE, num_labels=len(names), id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)}, use_safetensors=True)
    feature_extractor = AutoFeatureExtractor.from_pretrained(WHISPER_BACKBONE)
    fit_window(model, feature_extractor, 3.0)
    return "Whisper tiny.en, 3 s window (stand-in: ser-whisper-tiny not shipped yet)", model, feature_extractor


def _wav2vec2_base():
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    config = Wav2Vec2Config(num_labels=7)  # the defaults are facebook/wav2vec2-base's architecture
    return "wav2vec2-base architecture", Wav2Vec2ForSequenceClassification(config), Wav2Vec2FeatureExtractor()


STAGES = ("api", "timeline", "timeline_adaptive", "transformers", "whisper")  # whisper: the transformers stage for the shipped Whisper only


def main(argv=None) -> None:
    """``python -m bench.inference [api] [timeline] [transformers|whisper]`` (default: all); rows of the
    stages run replace theirs in ``bench/results/inference.json``, the others' rows stay. ``whisper``
    measures only the shipped Whisper model (after retraining it), not the wav2vec2-base architecture."""
    from ser_hf.audio import load_audio

    from .common import RESULTS

    stages = list(argv) if argv else [s for s in STAGES if s != "whisper"]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stage(s) {sorted(unknown)}; choose from {STAGES}")
    rows = []
    baseline = Path(os.environ.get("SER_BENCH_BASELINE", BASELINE))
    if not baseline.is_dir():
        raise SystemExit(f"{baseline}: the baseline model is not there; train or ship it first "
                         "(or set SER_BENCH_BASELINE to a model folder)")
    if "api" in stages:
        print("api latency ...", flush=True)
        rows += api_latency(baseline)
    if "timeline" in stages:
        print("hour-long timeline ...", flush=True)
        rows += hour_timeline(baseline)
    if "timeline_adaptive" in stages:
        print("hour-long timeline, speaker-adaptive model ...", flush=True)
        rows += hour_timeline(ADAPTIVE, label=", speaker-adaptive model (statistics gathered as it goes)")
    if "transformers" in stages or "whisper" in stages:
        def three_seconds(paths):  # the exported graphs take exactly 3 s
            return [np.pad(c, (0, 3 * 16000 - len(c))) for c in (load_audio(str(p))[: 3 * 16000] for p in paths)]

        clips, calibration = three_seconds(_clips(40, seed=4)), three_seconds(_clips(16, seed=7))
        calibration = [c for c in calibration if not any(np.array_equal(c, k) for k in clips)][:8]
        models = [(*_whisper(), 20.0, WHISPER.is_dir())]
        if "transformers" in stages:
            models.append((*_wav2vec2_base(), 100.0, False))
        for label, model, feature_extractor, goal, trained in models:
            print(f"{label} ...", flush=True)
            rows += transformer_cpu(label, model, feature_extractor, goal, clips, calibration, trained=trained)
    path = RESULTS / "inference.json"
    old = json.loads(path.read_text()) if path.exists() and not {"api", "timeline", "transformers"} <= set(stages) else []
    replaced = {r["benchmark"] for r in rows} | ({r["benchmark"] for r in old if r["benchmark"].startswith("api ")}
                                                if "api" in stages else set())
    write("inference", [r for r in old if r["benchmark"] not in replaced] + rows)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
