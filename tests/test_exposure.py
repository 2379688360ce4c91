"""Exposure: what ``python -m app`` lets the network reach, tried from the outside over HTTP.

The app is launched as users launch it (a subprocess, ``--share`` without ``--auth``, a small
upload limit), with its own TMPDIR and GRADIO_TEMP_DIR so its temporary files can be counted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SECRET = REPO / "pyproject.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_whisper, data_root, tmp_path_factory):
    """``python -m app --share`` (no --auth) on a free port; yields a dict with url, pid, log and temp dirs."""
    root = tmp_path_factory.mktemp("served")
    tmp, uploads = root / "tmp", root / "gradio"
    tmp.mkdir()
    port = _free_port()
    log = open(root / "app.log", "w+")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(tmp),
           "GRADIO_TEMP_DIR": str(uploads), "SER_DATA": str(data_root)}
    process = subprocess.Popen([sys.executable, "-m", "app", "--baseline", str(tiny_whisper), "--transformer",
                                str(root / "none"), "--port", str(port), "--share", "--max-file-size", "1mb"],
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
                               # as a shell's background job (CI) starts it: Ctrl+C must still stop it
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, (root / "app.log").read_text()
        try:
            if httpx.get(f"{url}/config", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (root / "app.log").read_text()
        time.sleep(0.3)
    info = {"url": url, "port": port, "process": process, "log": root / "app.log", "tmp": tmp, "uploads": uploads}
    yield info
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
    log.close()


def _refused(response: httpx.Response) -> bool:
    return response.status_code in (400, 403, 404) and "[project]" not in response.text


def test_binds_loopback_by_default_and_warns_loudly_on_share_without_auth(served):
    sys.path.insert(0, str(REPO))
    from app.__main__ import exposure_warnings, parse_args

    assert parse_args([]).host == "127.0.0.1"
    assert any("--share without --auth" in w for w in exposure_warnings(parse_args(["--share"])))
    assert exposure_warnings(parse_args(["--share", "--auth", "a:b"])) == []
    assert any("0.0.0.0 without --auth" in w for w in exposure_warnings(parse_args(["--host", "0.0.0.0"])))
    assert exposure_warnings(parse_args(["--host", "::1"])) == []
    text = served["log"].read_text()
    assert "!! WARNING: --share without --auth: ANYONE with the public link" in text, text
    # The listening socket is bound to 127.0.0.1 only (kernel's table: hex address:port, state 0A = LISTEN).
    listening = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{served['process'].pid}/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == served["port"]:
                listening.add(address)
    assert listening == {"0100007F"}, listening  # 127.0.0.1, not 0.0.0.0 (00000000) nor ::


def test_file_route_serves_uploads_but_nothing_else(served, tmp_path):
    url = served["url"]
    # The route works: a file uploaded through the API comes back.
    sf.write(tmp_path / "clip.wav", 0.1 * np.ones(1600, np.float32), 16000)
    with open(tmp_path / "clip.wav", "rb") as f:
        uploaded = httpx.post(f"{url}/gradio_api/upload", files={"files": ("clip.wav", f, "audio/wav")}).json()[0]
    assert httpx.get(f"{url}/gradio_api/file={uploaded}").content == (tmp_path / "clip.wav").read_bytes()
    upload_dir = Path(uploaded).parents[1]
    assert upload_dir == served["uploads"].resolve()
    # A link planted inside the upload folder does not lead out of it either.
    (upload_dir / "planted").mkdir(exist_ok=True)
    (upload_dir / "planted" / "link.toml").symlink_to(SECRET)

    secret = str(SECRET)
    relative = os.path.relpath(SECRET, upload_dir)  # ../../../.. up to / and down again
    attempts = [
        f"/gradio_api/file={secret}",
        f"/gradio_api/file={quote(secret, safe='')}",                        # URL-encoded
        f"/gradio_api/file={quote(quote(secret, safe=''), safe='')}",        # encoded twice
        f"/gradio_api/file={upload_dir}/{relative}",                         # out of the upload folder
        f"/gradio_api/file={quote(f'{upload_dir}/{relative}', safe='')}",
        f"/gradio_api/file={upload_dir}/planted/link.toml",
        "/gradio_api/file=pyproject.toml",                                    # relative to the server's cwd
        "/gradio_api/file=../main/pyproject.toml",
        "/gradio_api/file=..%2Fpyproject.toml",
        "/gradio_api/file=file://" + secret,
        f"/gradio_api/file/{secret}",                                        # the deprecated route
        f"/file={secret}",
        "/gradio_api/file=/etc/passwd",
        f"/gradio_api/file={REPO / 'models'}",                               # a folder
    ]
    for path in attempts:
        response = httpx.get(url + path)
        assert _refused(response), (path, response.status_code, response.text[:200])
    raw = httpx.Client(base_url=url)  # ".." kept verbatim on the wire, not normalised by the client
    response = raw.send(httpx.Request("GET", httpx.URL(url + "/gradio_api/file=/tmp/../" + secret.lstrip("/"))))
    assert _refused(response)
    (upload_dir / "planted" / "link.toml").unlink()  # ours, not the app's: the clean-up test counts the rest


def _call(url: str, payload) -> str:
    """POST one /predict call as raw JSON (no client-side upload) and return the event stream text."""
    event = httpx.post(f"{url}/gradio_api/call/predict", json={"data": [payload]}, timeout=30).json()["event_id"]
    return httpx.get(f"{url}/gradio_api/call/predict/{event}", timeout=60).text


def test_api_cannot_make_the_app_read_server_files(served):
    """A FileData payload naming a server path is refused by Gradio before our code opens it."""
    url = served["url"]
    secret = str(SECRET)
    payloads = [
        {"path": secret, "meta": {"_type": "gradio.FileData"}},
        {"path": f"{served['uploads']}/../../{os.path.relpath(SECRET, '/')}", "meta": {"_type": "gradio.FileData"}},
        {"path": "pyproject.toml", "meta": {"_type": "gradio.FileData"}},
        {"path": "x.wav", "url": f"file://{secret}", "meta": {"_type": "gradio.FileData"}},
        secret,
    ]
    for payload in payloads:
        stream = _call(url, payload)
        assert "event: error" in stream, (payload, stream[:300])
        # Our function never saw it: it would have said "not a readable audio file" after opening it.
        assert "not a readable audio file" not in stream and "[project]" not in stream, (payload, stream[:300])
        # Gradio's refusal: blocked path, not an upload, or not a FileData at all
        assert "cache dir because" in stream or "validation error for FileData" in stream, stream[:300]
    folder = _call(url, {"path": str(REPO / "models"), "meta": {"_type": "gradio.FileData"}})
    assert "event: error" in folder and "not a readable audio file" not in folder


def test_upload_over_the_limit_is_refused(served, tmp_path):
    sf.write(tmp_path / "big.wav", np.zeros(16000 * 40, np.int16), 16000)  # 1.28 MB > 1 MB
    with open(tmp_path / "big.wav", "rb") as f:
        response = httpx.post(f"{served['url']}/gradio_api/upload", files={"files": ("big.wav", f, "audio/wav")})
    assert response.status_code == 413, response.text[:200]


def test_rest_predict_answers_like_the_gradio_api_with_the_same_limits(served, data_root, tmp_path):
    """POST /v1/predict: the file as the body, the same JSON as /predict; bad audio 400, too big 413."""
    url = served["url"]
    clip = data_root / "SAVEE" / "DC_a02.flac"  # not the clip the clean-up test uploads (see there)
    rest = httpx.post(f"{url}/v1/predict", content=clip.read_bytes(), timeout=60)
    assert rest.status_code == 200, rest.text[:300]
    # Gradio's API on the same clip, over plain HTTP (a gradio_client would hold a heartbeat
    # connection open, and the clean-up test below needs the server to shut down cleanly).
    uploaded = httpx.post(f"{url}/gradio_api/upload", files={"files": (clip.name, clip.read_bytes(), "audio/flac")})
    stream = _call(url, {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}})
    assert rest.json() == json.loads(stream.split("data: ", 1)[1].splitlines()[0])[0]
    bad = httpx.post(f"{url}/v1/predict", content=b"these are not audio samples" * 40, timeout=60)
    assert bad.status_code == 400 and "cannot use this audio: not a readable audio file" in bad.json()["error"]
    assert httpx.post(f"{url}/v1/predict", content=b"", timeout=60).status_code == 400
    sf.write(tmp_path / "big.wav", np.zeros(16000 * 40, np.int16), 16000)  # 1.28 MB > 1 MB
    big = httpx.post(f"{url}/v1/predict", content=(tmp_path / "big.wav").read_bytes(), timeout=60)
    assert big.status_code == 413 and "too large" in big.json()["error"]

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(40):
            yield b"\0" * 32_000
    assert httpx.post(f"{url}/v1/predict", content=chunks(), timeout=60).status_code == 413


def test_gradio_rest_route_cannot_skip_the_queue(served, data_root):
    """Gradio's direct POST /run/predict would bypass the bounded queue: the app closes it (api_open=False)."""
    upload = httpx.post(f"{served['url']}/gradio_api/upload",
                        files={"files": ("a.flac", (data_root / "SAVEE" / "DC_a01.flac").read_bytes(), "audio/flac")})
    payload = {"data": [{"path": upload.json()[0], "meta": {"_type": "gradio.FileData"}}]}
    direct = httpx.post(f"{served['url']}/gradio_api/run/predict", json=payload, timeout=60)
    assert direct.status_code == 404 and "join the queue" in direct.text


def test_temporary_files_are_removed_when_the_app_stops(served, data_root, tmp_path):
    """Uploads (Gradio's delete_cache) and the examples' copies (atexit) go with the server."""
    url = served["url"]
    with open(data_root / "SAVEE" / "DC_a01.flac", "rb") as f:
        uploaded = httpx.post(f"{url}/gradio_api/upload", files={"files": ("a.flac", f, "audio/flac")}).json()[0]
    assert Path(uploaded).is_file()
    examples = list(served["tmp"].glob("ser-demo-examples-*"))
    assert len(examples) == 1 and len(list(examples[0].iterdir())) == 7  # 6 clips + the long recording
    process = served["process"]
    process.send_signal(signal.SIGINT)  # Ctrl+C, how a user stops it
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:  # show where it is stuck: the app dumps its threads on SIGUSR1
        process.send_signal(signal.SIGUSR1)
        time.sleep(3)
        pytest.fail("the app did not stop within 60 s of Ctrl+C; its log ends:\n" + served["log"].read_text()[-6000:])
    assert not Path(uploaded).exists()
    assert not [p for p in served["uploads"].rglob("*") if p.is_file()]
    assert not list(served["tmp"].glob("ser-demo-examples-*"))


def test_weights_load_only_from_safetensors_and_no_remote_code(tiny_whisper, tmp_path):
    import torch
    from safetensors.torch import load_file

    from ser_hf.errors import SerError
    from ser_hf.inference import EmotionRecognizer

    pickled = tmp_path / "pickled-model"
    pickled.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (pickled / name).write_bytes((tiny_whisper / name).read_bytes())
    torch.save(load_file(str(tiny_whisper / "model.safetensors")), pickled / "pytorch_model.bin")
    with pytest.raises(SerError, match="pickled-model: could not load an audio-classification model"):
        EmotionRecognizer.from_pretrained(pickled)
    EmotionRecognizer.from_pretrained(tiny_whisper)  # the same weights as safetensors load
    # Nowhere in the project is remote code trusted.
    offenders = []
    for path in REPO.rglob("*.py"):
        if ".venv" in path.parts or path == Path(__file__):
            continue
        if "trust_remote_code" in path.read_text(errors="replace"):
            offenders.append(str(path))
    assert not offenders, offenders
    assert "use_safetensors=True" in (REPO / "ser_hf" / "inference.py").read_text()

