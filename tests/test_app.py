"""The demo end to end: launched on loopback, called with gradio_client on real clips and on bad inputs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ser_hf.audio import load_audio
from ser_hf.inference import EmotionRecognizer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(demo_app):
    return Client(demo_app, verbose=False, download_files=False)


def test_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/timeline"} <= set(endpoints)


def test_predict_gives_each_model_its_probabilities(client, data_root, tiny_whisper, tiny_wav2vec2, tmp_path):
    from torchcodec.encoders import AudioEncoder

    stereo = torch.from_numpy(np.stack([load_audio(str(data_root / "SAVEE" / "JK_f01.flac"), 48000)] * 2))
    AudioEncoder(stereo, sample_rate=48000).to_file(str(tmp_path / "browser.webm"))
    clips = [data_root / "SAVEE" / "DC_a01.flac",
             data_root / "originals" / "RAVDESS" / "Actor_01" / "03-01-08-01-02-02-01.wav",  # 48 kHz stereo
             tmp_path / "browser.webm"]
    library = {path.name: EmotionRecognizer.from_pretrained(path) for path in (tiny_whisper, tiny_wav2vec2)}
    for clip in clips:
        result = client.predict(handle_file(str(clip)), api_name="/predict")
        assert set(result) == set(library)
        for name, recognizer in library.items():
            assert result[name] == pytest.approx(recognizer.predict(clip), abs=1e-4)


def test_timeline_endpoint(client, data_root, tmp_path, tiny_whisper):
    pause = np.zeros(16000, np.float32)
    parts = [load_audio(str(data_root / "SAVEE" / f"KL_{c}.flac")) for c in ("a01", "n01")]
    sf.write(tmp_path / "talk.wav", np.concatenate([pause, parts[0], pause, parts[1], pause]), 16000)
    rows = client.predict(handle_file(str(tmp_path / "talk.wav")), tiny_whisper.name, api_name="/timeline")
    assert len(rows) >= 2 and rows[0]["start"] >= 0.8
    assert rows == EmotionRecognizer.from_pretrained(tiny_whisper).timeline(tmp_path / "talk.wav")


def test_bad_inputs_are_api_errors_and_the_app_keeps_serving(client, data_root, tmp_path, tiny_whisper):
    rng = np.random.default_rng(0)
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 2, np.float32), 16000)
    sf.write(tmp_path / "click.wav", 0.3 * rng.standard_normal(400).astype(np.float32), 16000)
    sf.write(tmp_path / "lecture.flac", 0.1 * rng.standard_normal(16000 * 61).astype(np.float32), 16000)
    expected = {"notes.wav": "not a readable audio file", "empty.wav": "empty",
                "silent.wav": "no speech found", "click.wav": "too short", "lecture.flac": "too long"}
    for name, problem in expected.items():
        with pytest.raises(AppError) as caught:
            client.predict(handle_file(str(tmp_path / name)), api_name="/predict")
        assert problem in str(caught.value) and name in str(caught.value)
    with pytest.raises(AppError, match="no speech found"):
        client.predict(handle_file(str(tmp_path / "silent.wav")), tiny_whisper.name, api_name="/timeline")
    good = client.predict(handle_file(str(data_root / "SAVEE" / "DC_h01.flac")), api_name="/predict")
    assert all(sum(p.values()) == pytest.approx(1.0, abs=1e-4) for p in good.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_m_app_without_transformer_with_auth_share_and_upload_limit(tiny_whisper, data_root, tmp_path):
    """The command users run: a missing transformer is explained in the page, --share offline does not stop it."""
    port = _free_port()
    log = open(tmp_path / "app.log", "w+")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, "-m", "app", "--baseline", str(tiny_whisper), "--transformer",
                                str(tmp_path / "missing-model"), "--port", str(port), "--share", "--auth", "ann:pw",
                                "--max-file-size", "300kb", "--no-examples"],
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            log.seek(0)
            text = log.read()
            if "Could not create share link" in text or "Running on public URL" in text or process.poll() is not None:
                break
            time.sleep(0.5)
        assert process.poll() is None, text
        assert "Could not create share link" in text or "Running on public URL" in text, text
        with pytest.raises(Exception):
            Client(url, verbose=False)  # no login, no app
        client = Client(url, auth=("ann", "pw"), verbose=False, download_files=False)
        page = json.dumps(client.config)
        assert "No transformer model loaded" in page and "missing-model" in page
        result = client.predict(handle_file(str(data_root / "SAVEE" / "DC_a01.flac")), api_name="/predict")
        assert list(result) == [tiny_whisper.name]
        sf.write(tmp_path / "big.wav", np.zeros(16000 * 20, np.int16), 16000)  # 640 kB > 300 kB
        with pytest.raises(Exception, match="(?i)size|large|413"):
            client.predict(handle_file(str(tmp_path / "big.wav")), api_name="/predict")
        assert client.predict(handle_file(str(data_root / "SAVEE" / "DC_h01.flac")), api_name="/predict")
        # The one-request REST route asks for the same login (HTTP Basic).
        clip = (data_root / "SAVEE" / "DC_a01.flac").read_bytes()
        refused = httpx.post(f"{url}v1/predict", content=clip, timeout=60)
        assert refused.status_code == 401 and "login required" in refused.text
        wrong = httpx.post(f"{url}v1/predict", content=clip, auth=("ann", "nope"), timeout=60)
        assert wrong.status_code == 401
        served = httpx.post(f"{url}v1/predict", content=clip, auth=("ann", "pw"), timeout=60)
        assert served.status_code == 200 and served.json() == result
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
