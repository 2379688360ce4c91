"""``ser data summary`` on the real corpora: the table, the JSON, the chart and the errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import synth
from ser_hf import load_corpora
from ser_hf.cli import main
from ser_hf.summary import format_table, summarize

EMOTIONS_7 = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_rows(text: str) -> dict[str, list[str]]:
    """The printed table as {first cell: other cells}."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.strip() and not line.startswith(("-", "wrote"))}


def test_summary_prints_table_and_writes_json_and_png(data_root, tmp_path, capsys):
    out_json, out_png = tmp_path / "summary.json", tmp_path / "plots" / "classes.png"
    assert main(["data", "summary", str(data_root), "--json", str(out_json), "--plot", str(out_png)]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows["corpus"] == [*EMOTIONS_7, "clips", "speakers", "hours"]
    assert rows["ravdess"][:-1] == ["240", *["160"] * 6, "1200", "20"]
    assert rows["tess"][:-1] == [*["400"] * 7, "2800", "2"]
    assert rows["savee"][:-1] == ["120", *["60"] * 6, "480", "4"]
    assert rows["total"][:-1] == ["760", *["620"] * 6, "4480", "26"]
    assert float(rows["total"][-1]) == pytest.approx(sum(float(rows[c][-1]) for c in ("ravdess", "tess", "savee")),
                                                     abs=0.011)

    figures = json.loads(out_json.read_text())
    assert figures["label_set"] == "7" and figures["emotions"] == EMOTIONS_7
    assert figures["skipped"] == {}
    assert figures["total"]["clips"] == 4480 and figures["total"]["speakers"] == 26
    assert {c: b["clips"] for c, b in figures["corpora"].items()} == {"ravdess": 1200, "savee": 480, "tess": 2800}
    assert figures["corpora"]["savee"]["counts"] == {"neutral": 120, **{e: 60 for e in EMOTIONS_7[1:]}}
    # Hours are real header durations: RAVDESS clips run 3-5 s, TESS 1.3-2.5 s.
    assert 1200 * 3 / 3600 < figures["corpora"]["ravdess"]["hours"] < 1200 * 5 / 3600
    assert 2800 * 1.3 / 3600 < figures["corpora"]["tess"]["hours"] < 2800 * 2.5 / 3600
    assert figures["total"]["hours"] == pytest.approx(sum(b["hours"] for b in figures["corpora"].values()))
    for name, block in figures["corpora"].items():
        assert float(rows[name][-1]) == pytest.approx(block["hours"], abs=0.005)

    data = out_png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert data[12:16] == b"IHDR" and int.from_bytes(data[16:20], "big") >= 600  # width in pixels


def test_summary_of_one_corpus_folder_and_other_label_set(data_root, capsys):
    assert main(["data", "summary", str(data_root / "SAVEE"), "--label-set", "4", "--no-probe"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows["corpus"] == ["neutral", "happy", "sad", "angry", "clips", "speakers", "hours"]
    assert rows["savee"] == ["120", "60", "60", "60", "300", "4", "?"]  # no headers read: hours unknown


def test_summary_reports_skipped_files(tmp_path, capsys):
    folder, clips = synth.make_corpus(tmp_path, "savee", speakers=("DC",), per_emotion=1)
    (folder / "DC_a09.wav").write_bytes(b"")
    out_json = tmp_path / "s.json"
    assert main(["data", "summary", str(tmp_path), "--label-set", "8", "--json", str(out_json)]) == 0
    captured = capsys.readouterr()
    assert table_rows(captured.out)["savee"][-3:-1] == [str(len(clips)), "1"]
    assert "1 file(s) skipped" in captured.err
    assert json.loads(out_json.read_text())["skipped"] == {str(folder / "DC_a09.wav"): "empty file (0 bytes)"}


@pytest.mark.parametrize("make_bad", ["missing", "empty", "file"])
def test_bad_folder_exits_2_naming_it(tmp_path, capsys, make_bad):
    bad = tmp_path / "corpora"
    if make_bad == "empty":
        bad.mkdir()
    elif make_bad == "file":
        bad.write_text("not a folder")
    assert main(["data", "summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ser: error: {bad}: ")
    if make_bad == "empty":
        assert err[0].endswith("expected sub-folders named RAVDESS, CREMA-D, TESS, SAVEE")
    else:
        assert err[0] == f"ser: error: {bad}: no such folder"


def test_console_script(data_root, tmp_path):
    ser = shutil.which("ser", path=os.path.dirname(sys.executable)) or shutil.which("ser")
    assert ser, "the `ser` console script is not installed (pip install -e .)"
    out_png = tmp_path / "c.png"
    done = subprocess.run([ser, "data", "summary", str(data_root / "originals"), "--plot", str(out_png)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert rows["total"][7:9] == ["37", "6"]  # 12 RAVDESS clips (3 actors) + 7 SAVEE (1) + 18 TESS (2)
    assert out_png.read_bytes()[:8] == PNG_MAGIC


def test_summarize_matches_a_selection(data_root):
    ds = load_corpora(data_root, names=["savee"], probe_audio=False)
    part = ds.filter(lambda s: s == "savee_DC", input_columns="speaker")
    summary = summarize(part)
    assert summary["total"]["clips"] == 120 and summary["total"]["speakers"] == 1
    assert summary["total"]["hours"] is None
    assert "total" in format_table(summary).splitlines()[-1]
