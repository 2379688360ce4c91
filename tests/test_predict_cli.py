"""``ser predict``: files and folders in, one row per input out, broken inputs reported and counted."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from ser_hf.cli import main
from ser_hf.inference import EmotionRecognizer

LABELS = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


@pytest.fixture
def inputs(data_root, tmp_path):
    """A folder of real clips (nested, two formats) with a broken and a silent file among them."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(data_root / "SAVEE" / "DC_a01.flac", folder / "DC_a01.flac")
    shutil.copy(data_root / "SAVEE" / "JE_h01.flac", folder / "sub" / "JE_h01.flac")
    audio, sr = sf.read(data_root / "TESS" / "YAF_sad" / "YAF_back_sad.flac")
    sf.write(folder / "sub" / "tess.wav", audio, sr)
    (folder / "notes.wav").write_text("not audio at all")
    sf.write(folder / "silent.wav", np.zeros(8000, np.float32), 16000)
    (folder / "readme.txt").write_text("ignored: not an audio extension")
    return folder


def test_json_has_every_input_and_exits_nonzero_on_failures(tiny_whisper, inputs, data_root, tmp_path, capsys):
    out = tmp_path / "out.json"
    extra = data_root / "SAVEE" / "KL_n01.flac"
    code = main(["predict", str(tiny_whisper), str(inputs), str(extra), "--format", "json", "-o", str(out)])
    assert code == 1
    records = {r["path"]: r for r in json.loads(out.read_text())}
    assert set(records) == {str(p) for p in [inputs / "DC_a01.flac", inputs / "sub" / "JE_h01.flac",
                                             inputs / "sub" / "tess.wav", inputs / "notes.wav",
                                             inputs / "silent.wav", extra]}
    assert "not a readable audio file" in records[str(inputs / "notes.wav")]["error"]
    assert "no speech found" in records[str(inputs / "silent.wav")]["error"]
    recognizer = EmotionRecognizer.from_pretrained(tiny_whisper)
    for path in [inputs / "DC_a01.flac", extra]:
        record = records[str(path)]
        assert record["probabilities"] == pytest.approx(recognizer.predict(path), abs=1e-5)
        assert record["emotion"] == max(record["probabilities"], key=record["probabilities"].get)
    assert "2 of 6 input(s) failed" in capsys.readouterr().err


def test_all_good_inputs_exit_zero_csv(tiny_wav2vec2, data_root, capsys):
    paths = [str(data_root / "SAVEE" / name) for name in ("DC_a01.flac", "DC_h01.flac")]
    assert main(["predict", str(tiny_wav2vec2), *paths, "--format", "csv", "--no-progress"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["path"] for r in rows] == paths
    for row in rows:
        assert sum(float(row[label]) for label in LABELS) == pytest.approx(1.0, abs=1e-3)
        assert row["emotion"] in LABELS and row["error"] == ""


def test_table_shows_results_and_errors(tiny_whisper, inputs, capsys):
    assert main(["predict", str(tiny_whisper), str(inputs), "--no-progress"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["path", "emotion", "score"]
    assert len(lines) == 1 + 5
    assert any("notes.wav" in line and "ERROR: not a readable audio file" in line for line in lines)
    assert "skipped" in captured.err and "notes.wav" in captured.err


def test_long_writes_a_timeline_per_file(tiny_whisper, data_root, tmp_path, capsys):
    pause = np.zeros(16000 * 2, np.float32)
    clips = [sf.read(data_root / "SAVEE" / f"DC_{c}.flac", dtype="float32")[0] for c in ("a01", "h01", "sa01")]
    sf.write(tmp_path / "talk.flac", np.concatenate([pause] + [x for c in clips for x in (c, pause)]), 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(16000 * 3, np.float32), 16000)
    code = main(["predict", str(tiny_whisper), str(tmp_path / "talk.flac"), str(tmp_path / "quiet.wav"),
                 "--long", "--format", "json", "--no-progress"])
    assert code == 1
    talk, quiet = json.loads(capsys.readouterr().out)
    assert "no speech found" in quiet["error"]
    timeline = talk["timeline"]
    assert len(timeline) >= 3 and timeline[0]["start"] >= 1.5
    assert all(set(row) == {"start", "end", "emotion", "score", "probabilities"} for row in timeline)


def test_unloadable_model_is_a_clear_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "no-model"), str(tmp_path)]) == 2
    assert "could not load an audio-classification model" in capsys.readouterr().err


def test_console_script_runs(tiny_whisper, data_root):
    """The installed entry point, as a user types it."""
    result = subprocess.run([sys.executable, "-m", "ser_hf.cli", "predict", str(tiny_whisper),
                             str(data_root / "SAVEE" / "DC_a01.flac"), "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["emotion"] in LABELS


def test_the_runtime_flag_picks_what_runs_the_shipped_model_and_both_answer_alike(inputs, tmp_path, capsys):
    from conftest import REPO

    answers = {}
    for runtime in ("auto", "torch"):
        out = tmp_path / f"{runtime}.json"
        assert main(["predict", str(REPO / "models" / "ser-mfcc-cnn"), str(inputs / "sub"), "--runtime", runtime,
                     "--format", "json", "-o", str(out), "--no-progress"]) == 0
        answers[runtime] = {r["path"]: r for r in json.loads(out.read_text())}
    assert answers["auto"].keys() == answers["torch"].keys() and len(answers["auto"]) == 2
    for path, record in answers["auto"].items():
        assert record["emotion"] == answers["torch"][path]["emotion"]
        assert record["probabilities"] == pytest.approx(answers["torch"][path]["probabilities"], abs=1e-5)
    assert main(["predict", str(REPO / "models" / "ser-mfcc-cnn-adaptive"), str(inputs / "sub"),
                 "--runtime", "onnx"]) == 2  # an adaptive model takes the speaker's statistics: said, not served
    assert "use runtime='torch'" in capsys.readouterr().err
