"""app/rest.py's limits, on a FastAPI app of its own (the live app is tried in test_exposure.py)."""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.rest import predict_route  # noqa: E402
from ser_hf.errors import AudioError  # noqa: E402


def test_a_full_queue_is_refused_at_once_and_the_slot_comes_back():
    started, release = threading.Event(), threading.Event()

    def slow(body: bytes) -> dict:
        started.set()
        release.wait(10)
        return {"model": {"angry": 1.0}}

    app = FastAPI(routes=[predict_route(slow, concurrency=1, queue_size=0, max_bytes=1000)])
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/v1/predict", content=b"abc")
        assert started.wait(10)
        refused = client.post("/v1/predict", content=b"abc")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        release.set()
        assert first.result(10).json() == {"model": {"angry": 1.0}}
        assert client.post("/v1/predict", content=b"abc").status_code == 200


def test_audio_errors_become_400_with_the_problem():
    def broken(body: bytes) -> dict:
        raise AudioError("<3 bytes>", "not a readable audio file (Invalid data found)")

    with TestClient(FastAPI(routes=[predict_route(broken, concurrency=1, queue_size=1, max_bytes=1000)])) as client:
        response = client.post("/v1/predict", content=b"abc")
    assert response.status_code == 400
    assert response.json() == {"error": "cannot use this audio: not a readable audio file (Invalid data found)"}
