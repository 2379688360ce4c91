"""Server memory per request: Gradio's /predict against POST /v1/predict, side by side.

    python -m bench api_memory            # about 3 minutes on 2 cores

``python -m app`` serves the baseline in its own process; 8 clients send a 5 s clip, in
alternating rounds (800 requests to ``/v1/predict``, 400 through gradio_client to ``/predict``,
twice), and the server's RSS is read between rounds. Both routes call the same ``predict_all``,
so a difference between them is Gradio's request path (upload, queue, sessions), not inference.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from .common import row, write
from .inference import BASELINE, _serve, _speech


def main(argv=None) -> None:
    import argparse

    import httpx
    import psutil
    import soundfile as sf
    from gradio_client import Client, handle_file

    parser = argparse.ArgumentParser(prog="python -m bench.api_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each kind after the warm-up (default 2)")
    parser.add_argument("--rest-requests", type=int, default=800, help="requests per /v1/predict round (0: none)")
    parser.add_argument("--gradio-requests", type=int, default=400, help="requests per /predict round (0: none)")
    args = parser.parse_args([] if argv is None else argv)
    folder = Path(tempfile.mkdtemp())
    clip = folder / "clip5s.wav"
    sf.write(clip, _speech(5.0), 16000)
    body = clip.read_bytes()
    process, url = _serve(BASELINE, folder)
    server = psutil.Process(process.pid)
    rows = []
    try:
        gradio = [Client(url + "/", verbose=False, download_files=False) for _ in range(8)]
        rest = [httpx.Client(timeout=60) for _ in range(8)]

        def run(kind: str, n: int) -> float:
            def worker(i):
                for _ in range(n // 8):
                    if kind == "rest":
                        rest[i].post(f"{url}/v1/predict", content=body).raise_for_status()
                    else:
                        gradio[i].predict(handle_file(str(clip)), api_name="/predict")
            began = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return time.perf_counter() - began

        run("rest", 80)
        run("gradio", 80)  # warm-up of both paths
        for round_ in range(1, args.rounds + 1):
            for kind, n, label in (("rest", args.rest_requests, "POST /v1/predict"),
                                   ("gradio", args.gradio_requests, "/predict via gradio_client")):
                if not n:
                    continue
                before = server.memory_info().rss
                seconds = run(kind, n)
                growth = (server.memory_info().rss - before) / 1024 / n
                rows.append(row(f"server memory growth, {label}, 8 clients, round {round_}", "RSS per request",
                                round(growth, 1), "KB", notes=f"{n} requests in {seconds:.0f} s after the warm-up; "
                                f"RSS {before / 2**20:.0f} MB before the round"))
                print(rows[-1]["benchmark"], rows[-1]["value"], "KB/request", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    write("api_memory", rows)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
