"""The demo under load: 32 gradio_client clients for 60 s on loopback, good and bad inputs mixed.

    python -m bench load                                   # 32 clients, 60 s, writes bench/results/load.json
    python -m bench.load --clients 8 --seconds 20          # any size; --output to write elsewhere

The server is ``python -m app`` as users start it (shipped models, ``--no-examples``), in its own
process so its memory can be read (psutil when installed, else ``/proc/PID/status``). Each client
loops over the inputs, starting at a different one: real corpus clips (good) and broken files
(bad: text, empty, header only, silence, a click, NaN samples, 61 s, and an upload over the size
limit). Reported: requests/s, p50/p95 latency of good requests, server errors on good inputs
(goal 0), bad inputs answered with an error message (goal: all), server RSS before/peak/after,
and the queue and concurrency settings the server ran with.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .common import DATA, RESULTS, row, write

REPO = Path(__file__).resolve().parents[1]
GOOD_CLIPS = ("SAVEE/DC_a01.flac", "SAVEE/JE_h02.flac", "SAVEE/KL_sa03.flac", "TESS/YAF_fear/YAF_back_fear.flac",
              "RAVDESS/Actor_01/03-01-05-02-01-01-01.flac", "RAVDESS/Actor_02/03-01-03-02-02-01-02.flac")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"cannot read the memory of process {pid}")


def make_inputs(folder: Path, data: Path = DATA, oversize_mb: float | None = None) -> tuple[list[Path], list[Path]]:
    """``(good, bad)`` input files written under ``folder`` (good ones are corpus clips)."""
    import soundfile as sf

    good = [data / clip for clip in GOOD_CLIPS if (data / clip).is_file()]
    if not good:
        raise SystemExit(f"bench load: no corpus clips under {data} (set SER_DATA)")
    rng = np.random.default_rng(0)
    (folder / "notes.wav").write_text("not audio at all\n" * 10)
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "silence.wav", np.zeros(16000 * 2, np.float32), 16000)
    (folder / "header only.wav").write_bytes((folder / "silence.wav").read_bytes()[:44])
    sf.write(folder / "click.wav", 0.3 * rng.standard_normal(400).astype(np.float32), 16000)
    nan = 0.1 * rng.standard_normal(16000).astype(np.float32)
    nan[500] = np.nan
    sf.write(folder / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(folder / "lecture.flac", 0.1 * rng.standard_normal(16000 * 61).astype(np.float32), 16000)
    bad = [folder / n for n in ("notes.wav", "empty.wav", "silence.wav", "header only.wav", "click.wav", "nan.wav",
                                "lecture.flac")]
    if oversize_mb:
        samples = int(oversize_mb * 1.2 * 2**20 / 2)
        sf.write(folder / "oversize.wav", np.zeros(samples, np.int16), 16000)
        bad.append(folder / "oversize.wav")
    return good, bad


def run(url: str, pid: int, good: list[Path], bad: list[Path], clients: int = 32, seconds: float = 60.0) -> dict:
    """Drive ``url``'s /predict from ``clients`` threads for ``seconds``; the figures as a dict."""
    from gradio_client import Client, handle_file

    pool = [Client(url, verbose=False, download_files=False) for _ in range(clients)]
    for path in good[:2]:  # warm-up: lazy imports and first-call costs are not load
        pool[0].predict(handle_file(str(path)), api_name="/predict")
    inputs = [(p, True) for p in good] + [(p, False) for p in bad]
    lock = threading.Lock()
    latencies, good_errors, bad_answered, bad_silent, messages = [], [], 0, [], {}
    rss = {"before": rss_mb(pid), "peak": 0.0}
    samples: list[tuple[float, float]] = []  # (seconds into the run, RSS MB)
    stop = time.monotonic() + seconds
    gate = threading.Barrier(clients + 1)

    def worker(index: int, client) -> None:
        nonlocal bad_answered
        gate.wait()
        i = index
        while time.monotonic() < stop:
            path, is_good = inputs[i % len(inputs)]
            i += 1
            began = time.perf_counter()
            try:
                client.predict(handle_file(str(path)), api_name="/predict")
                outcome = None
            except Exception as exc:  # every failure is counted, none hidden
                outcome = " ".join(str(exc).split())[:200] or type(exc).__name__
            with lock:
                if is_good and outcome is None:
                    latencies.append(time.perf_counter() - began)
                elif is_good:
                    good_errors.append(f"{path.name}: {outcome}")
                elif outcome:
                    bad_answered += 1
                    messages.setdefault(path.name, outcome)
                else:
                    bad_silent.append(path.name)

    def sample_memory() -> None:
        start = time.monotonic()
        while time.monotonic() < stop:
            samples.append((time.monotonic() - start, rss_mb(pid)))
            rss["peak"] = max(rss["peak"], samples[-1][1])
            time.sleep(0.5)

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(pool)]
    threads.append(threading.Thread(target=sample_memory, daemon=True))
    for t in threads:
        t.start()
    gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    time.sleep(1.0)
    rss["after"] = rss_mb(pid)
    # Bounded or leaking: RSS at each quarter of the run (a leak keeps climbing in the last quarters).
    quarters = [max([m for t, m in samples if t <= wall * q / 4] or [rss["before"]]) for q in (1, 2, 3, 4)]
    ms = np.array(sorted(latencies)) * 1000 if latencies else np.zeros(1)
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(latencies) + len(good_errors) + bad_answered
        + len(bad_silent), "good_ok": len(latencies), "requests_per_s": (len(latencies) + len(good_errors)
        + bad_answered + len(bad_silent)) / wall, "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)), "good_errors": len(good_errors), "good_error_examples":
        sorted(set(good_errors))[:5], "bad_requests": bad_answered + len(bad_silent), "bad_with_message": bad_answered,
        "bad_without_error": sorted(set(bad_silent)), "messages": messages, "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "rss_peak_by_quarter_mb": [round(q, 1) for q in quarters],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """``python -m app`` on a free loopback port; returns (process, url) once it answers."""
    import httpx

    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--no-examples", *app_args],
                               cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench load: the app exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("bench load: the app did not start within 300 s")


def rows_of(result: dict, settings: str, label: str = "") -> list[dict]:
    name = f"app under load, {result['clients']} clients, {round(result['seconds'] / 60):g} min{label}"
    rss = result["rss_mb"]
    note = (f"{result['seconds']} s, {result['requests']} requests ({result['bad_requests']} bad inputs); {settings}; "
            f"server RSS before {rss['before']} MB, peak {rss['peak']} MB, after {rss['after']} MB, "
            f"peak so far at each quarter of the run {result['rss_peak_by_quarter_mb']} MB")
    total_bad = result["bad_requests"]
    return [
        row(name, "requests/s", round(result["requests_per_s"], 2), "req/s", None, None, note),
        row(name, "good latency p50", round(result["p50_ms"], 1), "ms", None, None, note),
        row(name, "good latency p95", round(result["p95_ms"], 1), "ms", None, None, note),
        row(name, "server errors on good inputs", result["good_errors"], "count", "0", result["good_errors"] == 0,
            "; ".join(result["good_error_examples"]) or note),
        row(name, "bad inputs answered with an error message", result["bad_with_message"], "count",
            f"all ({total_bad})", result["bad_with_message"] == total_bad and total_bad > 0,
            "silent: " + ", ".join(result["bad_without_error"]) if result["bad_without_error"] else note),
        row(name, "server RSS growth (after - before)", round(rss["after"] - rss["before"], 1), "MB", None, None, note),
        row(name, "server RSS peak growth", round(rss["peak"] - rss["before"], 1), "MB", None, None, note),
        row(name, "server RSS growth in the second half", round(result["rss_peak_by_quarter_mb"][3]
            - result["rss_peak_by_quarter_mb"][1], 1), "MB", None, None, note),
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SER_LOAD_CLIENTS", 32)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SER_LOAD_SECONDS", 60)))
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="the app's --concurrency")
    parser.add_argument("--queue-size", type=int, default=64, help="the app's --queue-size")
    parser.add_argument("--max-file-size", default="2mb", help="the app's --max-file-size (an oversize input is sent)")
    parser.add_argument("--output", type=Path, help=f"results file (default {RESULTS / 'load.json'})")
    parser.add_argument("--label", default="", help="appended to the benchmark name (e.g. ', glibc malloc defaults')")
    parser.add_argument("app_args", nargs="*", help="more arguments for python -m app (after --)")
    args = parser.parse_args([] if argv is None else argv)
    folder = Path(tempfile.mkdtemp(prefix="ser-load-"))
    good, bad = make_inputs(folder, oversize_mb=float(args.max_file_size.lower().rstrip("mb") or 2))
    app_args = ["--concurrency", str(args.concurrency), "--queue-size", str(args.queue_size),
                "--max-file-size", args.max_file_size, *args.app_args]
    process, url = serve(app_args, folder / "app.log")
    try:
        result = run(url, process.pid, good, bad, clients=args.clients, seconds=args.seconds)
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
    models = [p.name for p in (REPO / "models" / "ser-mfcc-cnn", REPO / "models" / "ser-whisper-tiny") if p.is_dir()]
    settings = (f"server: python -m app {' '.join(app_args)} (queue max_size {args.queue_size}, "
                f"default_concurrency_limit {args.concurrency}, torch 1 thread per request); "
                f"{len(good)} good clips, {len(bad)} bad inputs; {os.cpu_count()} cores shared with the clients")
    if not args.app_args:
        settings += "; models: " + ", ".join(models)
    result["settings"] = settings
    print(json.dumps(result, indent=1))
    rows = rows_of(result, settings, args.label)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")
    else:
        write("load", rows)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
