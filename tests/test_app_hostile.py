"""The hostile-audio matrix (tests/test_hostile_audio.py) at the two outer doors: the app's API
through ``gradio_client`` on loopback, and ``ser predict --format json``.

Every input gets either the prediction the library gives for it or one error naming the file and
the problem; the server answers the next good request after each bad one.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ser_hf.cli import main
from ser_hf.inference import EmotionRecognizer
from test_hostile_audio import FFMPEG, _broken_files, ffmpeg_encode, sparse_wav, tone


def hostile_inputs(folder) -> tuple[list, dict]:
    """``(good, bad)``: files the recogniser must predict, and {file: problem} it must refuse."""
    bad = {folder / name: problem for name, problem in _broken_files(folder).items()}
    src = folder / "src 48k.wav"
    sf.write(src, tone(48000), 48000)
    good = [src]
    for name, args in (("x.mp3", ("-c:a", "libmp3lame")), ("x.opus", ("-c:a", "libopus")),
                       ("x.m4a", ("-c:a", "aac")), ("x.webm", ("-c:a", "libopus"))):
        if FFMPEG:
            ffmpeg_encode(src, folder / name, *args)
            good.append(folder / name)
    sf.write(folder / "aiff named.wav", tone(16000), 16000, format="AIFF")
    sf.write(folder / "8ch 96k.wav", tone(96000, channels=8), 96000)
    sf.write(folder / "u8.wav", tone(22050), 22050, subtype="PCM_U8")
    sf.write(folder / "ünïcødé ñame.wav", tone(16000), 16000)
    lying = bytearray((folder / "u8.wav").read_bytes())
    lying[4:8] = lying[40:44] = b"\xff\xff\xff\xff"  # header says 4 GB
    (folder / "data 4 GB.wav").write_bytes(bytes(lying))
    good += [folder / n for n in ("aiff named.wav", "8ch 96k.wav", "u8.wav", "ünïcødé ñame.wav", "data 4 GB.wav")]

    nan = tone(16000).astype(np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(folder / "click.wav", tone(16000, 0.05), 16000)
    sf.write(folder / "silence.wav", np.zeros(16000), 16000)
    sparse_wav(folder / "fifteen minutes.wav", 900, sr=8000)  # 14 MB of zeros on the wire, a hole on disk
    (folder / "ünïcødé broken.wav").write_text("not audio")
    bad.update({folder / "nan.wav": "NaN or infinite", folder / "click.wav": "too short",
                folder / "silence.wav": "no speech found", folder / "fifteen minutes.wav": "too long",
                folder / "ünïcødé broken.wav": "not a readable audio file"})
    return good, bad


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_inputs(tmp_path_factory.mktemp("hostile"))


def test_app_api_answers_every_hostile_input(demo_app, hostile, tiny_whisper, tiny_wav2vec2, data_root):
    good, bad = hostile
    client = Client(demo_app, verbose=False, download_files=False)
    library = {p.name: EmotionRecognizer.from_pretrained(p) for p in (tiny_whisper, tiny_wav2vec2)}
    for path in good:
        result = client.predict(handle_file(str(path)), api_name="/predict")
        for name, recognizer in library.items():
            assert result[name] == pytest.approx(recognizer.predict(path), abs=1e-4), path.name
    for path, problem in bad.items():
        if not path.is_file():  # a folder or a missing file cannot be uploaded (the client refuses)
            continue
        with pytest.raises(AppError) as caught:
            client.predict(handle_file(str(path)), api_name="/predict")
        message = str(caught.value)
        assert path.name in message and problem in message, (path.name, message)
        assert "Traceback" not in message and "/tmp/gradio" not in message  # the user's name, not the server's path
    with pytest.raises(AppError, match="text.wav: not a readable audio file"):
        client.predict(handle_file(str(next(p for p in bad if p.name == "text.wav"))), tiny_whisper.name,
                       api_name="/timeline")
    # Still serving after all of it.
    result = client.predict(handle_file(str(data_root / "SAVEE" / "JK_sa01.flac")), api_name="/predict")
    assert set(result) == set(library)


def test_ser_predict_json_reports_every_hostile_input(hostile, tiny_whisper, tmp_path, capsys):
    good, bad = hostile
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    bad = {**bad, fifo: "not a regular file"}
    paths = [str(p) for p in [*good, *bad] if p.name != "folder.wav"]  # a folder argument is walked, not read
    out = tmp_path / "out.json"
    assert main(["predict", str(tiny_whisper), *paths, "--format", "json", "-o", str(out), "--no-progress"]) == 1
    records = {r["path"]: r for r in json.loads(out.read_text())}
    assert set(records) == set(paths)
    recognizer = EmotionRecognizer.from_pretrained(tiny_whisper)
    for path in good:
        record = records[str(path)]
        assert record.get("error") in (None, ""), record
        assert record["probabilities"] == pytest.approx(recognizer.predict(path), abs=1e-5)
    for path, problem in bad.items():
        if path.name == "folder.wav":
            continue
        assert problem in records[str(path)]["error"], records[str(path)]
    assert f"{len(paths) - len(good)} of {len(paths)} input(s) failed" in capsys.readouterr().err


def test_load_benchmark_smoke(demo_app, tmp_path):
    """bench/load.py's driver for a few seconds on the test app: every bad input answered, no good one failed."""
    from bench.load import make_inputs, run

    good, bad = make_inputs(tmp_path)
    result = run(demo_app, os.getpid(), good, bad, clients=4, seconds=3)
    assert result["good_ok"] > 0 and result["bad_requests"] > 0, result
    assert result["good_errors"] == 0, result["good_error_examples"]
    assert result["bad_with_message"] == result["bad_requests"], result["bad_without_error"]
    assert result["rss_mb"]["before"] > 0
