"""The four corpus loaders: every field parsed from the names, bad files skipped and reported,
clear errors for wrong folders, audio decoded to mono 16 kHz; then the real shared corpora."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

import synth
from ser_hf import CorpusError, load_audio, load_corpora, load_corpus
from ser_hf.corpora import SkippedFilesWarning, find_corpora

EXTRA = ("intensity", "statement", "repetition", "vocal_channel", "sentence", "level", "age", "age_group",
         "word", "sentence_number")

# Each label set written out by hand (not taken from ser_hf.taxonomy): None = dropped.
LABEL_SETS = {
    "8": {e: e for e in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")},
    "7": {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
          "fearful": "fearful", "disgust": "disgust", "surprised": "surprised"},
    "6": {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
          "fearful": "fearful", "disgust": "disgust", "surprised": None},
    "4": {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
          "fearful": None, "disgust": None, "surprised": None},
}


def rows_by_path(ds) -> dict[str, dict]:
    names = ds.features["emotion"].names
    rows = {}
    for row in ds.remove_columns("audio").to_list():
        row["emotion"] = names[row["emotion"]]
        rows[row["path"]] = row
    return rows


def check_rows(ds, clips, corpus: str, label_set: str = "8") -> None:
    """``ds`` holds exactly ``clips`` (those the label set keeps), each with every field right."""
    kept = [c for c in clips if LABEL_SETS[label_set][c.fields["emotion"]] is not None]
    rows = rows_by_path(ds)
    assert sorted(rows) == sorted(str(c.path) for c in kept)
    for clip in kept:
        row = rows[str(clip.path)]
        expected = {key: None for key in EXTRA}
        expected.update(clip.fields, corpus=corpus, emotion=LABEL_SETS[label_set][clip.fields["emotion"]],
                        sampling_rate=clip.sampling_rate, channels=clip.channels)
        assert {k: row[k] for k in expected} == expected, clip.path
        assert row["duration"] == pytest.approx(clip.duration, abs=2e-3), clip.path


def load_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)  # a clean corpus skips nothing
        return (load_corpora if len(args) == 1 else load_corpus)(*args, **kwargs)


# --- Naming conventions, on synthetic corpora --------------------------------------------------

def test_ravdess_fields_speech_only_by_default(make_corpus):
    folder, clips = make_corpus("ravdess", actors=(1, 2, 24))
    ds = load_quietly("ravdess", folder, label_set="8")
    speech = [c for c in clips if c.fields["vocal_channel"] == "speech"]
    assert len(ds) == len(speech) == 3 * 15
    check_rows(ds, speech, "ravdess")
    assert Counter(ds["gender"]) == {"male": 15, "female": 30}  # odd actors (01) male, even (02, 24) female


def test_ravdess_song_on(make_corpus):
    folder, clips = make_corpus("ravdess", actors=(3,))
    ds = load_quietly("ravdess", folder, label_set="8", include_song=True)
    assert len(ds) == len(clips) == 15 + 11
    check_rows(ds, clips, "ravdess")
    assert Counter(ds["vocal_channel"]) == {"speech": 15, "song": 11}


@pytest.mark.parametrize("label_set", ["8", "7", "6", "4"])
def test_label_sets(make_corpus, label_set):
    folder, clips = make_corpus("ravdess", actors=(1,), variants=[(16000, 1, ".wav")])
    ds = load_quietly("ravdess", folder, label_set=label_set)
    names = ds.features["emotion"].names
    assert names == {"8": ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"],
                     "7": ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"],
                     "6": ["neutral", "happy", "sad", "angry", "fearful", "disgust"],
                     "4": ["neutral", "happy", "sad", "angry"]}[label_set]
    check_rows(ds, [c for c in clips if c.fields["vocal_channel"] == "speech"], "ravdess", label_set)
    counts = Counter(names[i] for i in ds["emotion"])
    # speech per actor: neutral x1 intensity, the 7 others x2
    assert counts["neutral"] == (1 if label_set == "8" else 3)  # calm folds into neutral below 8
    assert len(ds) == {"8": 15, "7": 15, "6": 13, "4": 9}[label_set]
    assert Counter(ds["original_label"])["calm"] == 2  # kept in every set: as calm in 8, as neutral below


def test_crema_d_with_demographics(make_corpus):
    folder, clips = make_corpus("crema_d")
    assert (folder / "VideoDemographics.csv").read_text().startswith("ActorID,Age,Sex,Race,Ethnicity")
    ds = load_quietly("crema_d", folder, label_set="6")
    check_rows(ds, clips, "crema_d", "6")
    by_speaker = {r["speaker"]: (r["gender"], r["age"]) for r in rows_by_path(ds).values()}
    assert by_speaker == {"crema_d_1001": ("male", 51), "crema_d_1002": ("female", 21),
                          "crema_d_1005": ("male", 29)}
    assert set(ds["level"]) == {"XX", "LO", "MD", "HI"}


def test_crema_d_without_demographics_is_unknown_gender(make_corpus):
    folder, clips = make_corpus("crema_d", actors=(1003,), demographics=False)
    ds = load_quietly("crema_d", folder)
    check_rows(ds, clips, "crema_d", "7")
    assert set(ds["gender"]) == {"unknown"}
    assert set(ds["age"]) == {None}


def test_tess_folders_words_and_ages(make_corpus):
    folder, clips = make_corpus("tess", words=("back", "bite"))
    ds = load_quietly("tess", folder, label_set="7")
    check_rows(ds, clips, "tess", "7")
    assert len(ds) == 2 * 7 * 2
    rows = rows_by_path(ds).values()
    assert {(r["speaker"], r["age"], r["age_group"]) for r in rows} == {("tess_OAF", 64, "older"),
                                                                       ("tess_YAF", 26, "younger")}
    surprised = [r for r in rows if r["emotion"] == "surprised"]
    assert {r["path"].split("/")[-2] for r in surprised} == {"OAF_Pleasant_surprise", "YAF_pleasant_surprised"}


def test_tess_folder_beats_file_prefix_and_stray_copies_are_skipped(make_corpus, tmp_path):
    folder, clips = make_corpus("tess", words=("back",))
    odd = synth.write_audio(folder / "OAF_neutral" / "OA_bite_neutral.wav")  # the release's missing "F"
    stray = synth.write_audio(folder / "OAF_Fear" / "OAF_back_fear (1).wav")  # a download duplicate
    with pytest.warns(SkippedFilesWarning) as record:
        ds = load_corpus("tess", folder)
    assert record[0].message.skipped == {str(stray.path): "name fits no TESS convention"}
    row = rows_by_path(ds)[str(odd.path)]
    assert (row["speaker"], row["emotion"], row["word"]) == ("tess_OAF", "neutral", "bite")
    assert len(ds) == len(clips) + 1


@pytest.mark.parametrize("layout", ["flat", "released"])
def test_savee_layouts(make_corpus, layout):
    folder, clips = make_corpus("savee", speakers=("DC", "JE", "KL"), layout=layout)
    if layout == "released":
        assert (folder / "AudioData" / "DC" / "a01.wav").exists()
    else:
        assert (folder / "DC_a01.wav").exists()
    ds = load_quietly("savee", folder, label_set="8")
    check_rows(ds, clips, "savee")
    assert len(ds) == 3 * (6 * 2 + 4)
    neutral = [r for r in rows_by_path(ds).values() if r["emotion"] == "neutral"]
    assert sorted({r["sentence_number"] for r in neutral}) == [1, 2, 3, 4]


# --- Bad files and wrong folders -----------------------------------------------------------------

def test_unmatched_names_are_skipped_and_listed(make_corpus):
    folder, clips = make_corpus("ravdess", actors=(4,), song=False)
    bad = [synth.write_audio(folder / "Actor_04" / name).path
           for name in ("readme.wav", "03-01-09-01-01-01-04.wav", "03-01-01-01-01-01.wav")]
    (folder / "Actor_04" / "notes.txt").write_text("not audio, not counted")
    (folder / "Actor_04" / "._03-01-01-01-01-01-04.wav").write_bytes(b"\x00" * 10)  # macOS fork: ignored
    with pytest.warns(SkippedFilesWarning) as record:
        ds = load_corpus("ravdess", folder)
    assert len(record) == 1
    warning = record[0].message
    assert sorted(warning.skipped) == sorted(map(str, bad))
    assert "ravdess: skipped 3 file(s)" in str(warning)
    assert all(str(p) in str(warning) for p in bad)
    assert len(ds) == len(clips) == 15


def test_empty_and_non_audio_wav_are_skipped_with_exact_counts(make_corpus):
    folder, clips = make_corpus("savee", speakers=("DC",), per_emotion=1)
    empty = folder / "DC_a02.wav"
    empty.write_bytes(b"")
    text = folder / "DC_h02.wav"
    text.write_text("this is a text file with a .wav name\n" * 20)
    with pytest.warns(SkippedFilesWarning) as record:
        ds = load_corpus("savee", folder)
    skipped = record[0].message.skipped
    assert set(skipped) == {str(empty), str(text)}
    assert skipped[str(empty)] == "empty file (0 bytes)"
    assert skipped[str(text)].startswith("not a readable audio file")
    assert len(ds) == len(clips) == 8
    assert "skipped 2 file(s)" in str(record[0].message)
    # Without header probing the loader cannot tell: both are listed (for fast listings only).
    assert len(load_corpus("savee", folder, probe_audio=False)) == 10


def test_empty_wrong_and_missing_folders_raise_clear_errors(tmp_path, make_corpus):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no audio files found; expected the RAVDESS corpus") as exc:
        load_corpus("ravdess", empty)
    assert str(empty) in str(exc.value)

    tess, _ = make_corpus("tess", words=("back",))
    with pytest.warns(SkippedFilesWarning), pytest.raises(CorpusError) as exc:
        load_corpus("ravdess", tess)
    assert str(tess) in str(exc.value) and "none of 14 audio files could be used as RAVDESS" in str(exc.value)

    with pytest.raises(CorpusError, match="no such folder") as exc:
        load_corpus("savee", tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(exc.value)

    with pytest.raises(CorpusError, match="no corpus folders found; expected sub-folders named RAVDESS, "
                                          "CREMA-D, TESS, SAVEE") as exc:
        load_corpora(empty)
    assert str(empty) in str(exc.value)
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("iemocap", empty)


def test_load_corpora_finds_folders_in_any_case(tmp_path):
    clips = {}
    for name, folder in (("ravdess", "ravdess"), ("crema_d", "Crema-D"), ("tess", "tess"), ("savee", "Savee")):
        clips[name] = synth.MAKERS[name](tmp_path / folder)
    assert {k: v.name for k, v in find_corpora(tmp_path).items()} == {
        "ravdess": "ravdess", "crema_d": "Crema-D", "tess": "tess", "savee": "Savee"}
    ds = load_quietly(tmp_path, label_set="8", include_song=True)
    assert Counter(ds["corpus"]) == {name: len(c) for name, c in clips.items()}
    assert len(load_quietly(tmp_path, label_set="8")) == len(ds) - 2 * 11  # song off by default
    assert set(load_corpora(tmp_path, names="tess")["corpus"]) == {"tess"}
    assert set(load_corpora(tmp_path, names=["SAVEE", "crema-d"])["corpus"]) == {"savee", "crema_d"}
    (tmp_path / "tess").rename(tmp_path / "elsewhere")
    with pytest.raises(CorpusError, match="no folder for tess"):
        load_corpora(tmp_path, names=["tess"])


def test_synthetic_corpora_fixture_loads_whole(synthetic_corpora):
    root, clips = synthetic_corpora
    ds = load_quietly(root, label_set="8", include_song=True)
    assert len(ds) == sum(map(len, clips.values()))
    assert len({s for s in ds["speaker"]}) == 2 + 3 + 2 + 2


# --- Decoding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", [(44100, 2, ".wav"), (48000, 2, ".flac"), (8000, 2, ".wav"),
                                     (22050, 2, ".aiff"), (8000, 1, ".ogg")])
def test_decoding_gives_mono_float_16k(make_corpus, variant):
    folder, clips = make_corpus("savee", speakers=("KL",), per_emotion=1, variants=[variant])
    ds = load_quietly("savee", folder)
    assert set(ds["sampling_rate"]) == {variant[0]} and set(ds["channels"]) == {variant[1]}
    for i in range(3):
        row = ds[i]
        samples = row["audio"].get_all_samples()
        assert samples.sample_rate == 16000
        assert tuple(samples.data.shape)[0] == 1  # mono
        n = samples.data.shape[1]
        expected = row["duration"] * 16000
        if variant[2] == ".ogg":
            # FFmpeg (like the ffmpeg CLI) keeps Vorbis's last-block padding: up to 2048 source samples.
            assert expected - 2 <= n <= expected + 2048 * 16000 / variant[0], (n, row["duration"])
        else:
            assert abs(n - expected) <= 2, (n, row["duration"])
        direct = load_audio(row["path"])
        assert direct.dtype == np.float32 and direct.ndim == 1
        np.testing.assert_allclose(direct, samples.data.numpy()[0], atol=1e-6)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_stereo_file_downmix_is_a_fixed_mix_of_both_channels(tmp_path):
    # Channel 0 is the tone at half the amplitude of channel 1. FFmpeg's downmix (the one
    # datasets.Audio uses too) is (L + R) / sqrt(2): 1.5 / sqrt(2) of the right channel's level.
    clip = synth.write_audio(tmp_path / "DC_a01.wav", duration=0.5, sampling_rate=44100, channels=2, noise=0)
    left, right = sf.read(clip.path, dtype="float32")[0].T
    assert rms(left) == pytest.approx(0.5 * rms(right), rel=1e-3)
    mono = load_audio(clip.path)
    ratio = rms(mono[200:-200]) / rms(right)
    assert ratio == pytest.approx(1.5 / np.sqrt(2), abs=0.02)


def test_stereo_file_and_array_downmix_agree(tmp_path):
    clip = synth.write_audio(tmp_path / "DC_a01.wav", duration=0.5, sampling_rate=16000, channels=2, noise=0)
    samples, sr = sf.read(clip.path, dtype="float32")
    np.testing.assert_allclose(load_audio(clip.path), load_audio((sr, samples)), atol=1e-3)


# --- The real corpora --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def originals(originals_root):
    return load_quietly(originals_root, label_set="8")


@pytest.fixture(scope="module")
def shared(data_root):
    """The full shared corpora with header probing (the default): ~1-5 s, once per module."""
    return load_quietly(data_root)


def test_originals_all_load(originals):
    assert len(originals) == 37
    assert Counter(originals["corpus"]) == {"ravdess": 12, "savee": 7, "tess": 18}
    by_corpus = {}
    for row in rows_by_path(originals).values():
        by_corpus.setdefault(row["corpus"], set()).add(row["sampling_rate"])
    assert by_corpus == {"ravdess": {48000}, "savee": {44100}, "tess": {24414, 96000}}


def test_originals_quirks_decode(originals, originals_root):
    rows = rows_by_path(originals)
    paths = list(rows)

    def decoded(relative):
        path = str(originals_root / relative)
        samples = originals[paths.index(path)]["audio"].get_all_samples()
        assert samples.sample_rate == 16000 and samples.data.shape[0] == 1
        n = samples.data.shape[1]
        assert abs(n - rows[path]["duration"] * 16000) <= 32, (path, n, rows[path]["duration"])
        return rows[path], samples.data.numpy()[0]

    for aiff in ("TESS/YAF_angry/YAF_germ_angry.wav", "TESS/YAF_fear/YAF_neat_fear.wav"):
        assert sf.info(str(originals_root / aiff)).format == "AIFF"  # the quirk is really there
        row, x = decoded(aiff)
        assert row["speaker"] == "tess_YAF" and x.std() > 1e-3

    row, x = decoded("TESS/OAF_Fear/OAF_food_fear.wav")
    assert row["sampling_rate"] == 96000
    assert len(x) / 16000 == pytest.approx(sf.info(str(originals_root / "TESS/OAF_Fear/OAF_food_fear.wav")).duration,
                                           abs=2e-3)

    row = rows[str(originals_root / "TESS/OAF_neutral/OA_bite_neutral.wav")]
    assert (row["speaker"], row["emotion"], row["word"], row["age"]) == ("tess_OAF", "neutral", "bite", 64)

    stereo = sorted(p for p, r in rows.items() if r["channels"] == 2)
    assert [p.split("originals/")[1] for p in stereo] == [
        "RAVDESS/Actor_01/03-01-02-01-01-02-01.wav", "RAVDESS/Actor_01/03-01-08-01-02-02-01.wav",
        "RAVDESS/Actor_05/03-01-02-01-02-02-05.wav", "RAVDESS/Actor_20/03-01-03-01-02-01-20.wav"]
    for path in stereo:
        row, x = decoded(path.split("originals/")[1])
        assert x.ndim == 1 and len(x) > 16000


def test_shared_corpora_exact_counts(shared):
    assert len(shared) == 4480
    rows = list(rows_by_path(shared).values())
    per_corpus = Counter(r["corpus"] for r in rows)
    assert per_corpus == {"ravdess": 1200, "tess": 2800, "savee": 480}
    speakers = {c: Counter(r["speaker"] for r in rows if r["corpus"] == c) for c in per_corpus}
    assert speakers["ravdess"] == {f"ravdess_{a:02d}": 60 for a in range(1, 21)}
    assert speakers["tess"] == {"tess_OAF": 1400, "tess_YAF": 1400}
    assert speakers["savee"] == {f"savee_{s}": 120 for s in ("DC", "JE", "JK", "KL")}
    tess = Counter(r["emotion"] for r in rows if r["corpus"] == "tess")
    assert tess == {e: 400 for e in ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")}
    assert Counter(r["original_label"] for r in rows if r["corpus"] == "tess") == {
        c: 400 for c in ("neutral", "happy", "sad", "angry", "fear", "disgust", "ps")}
    for speaker in speakers["savee"]:
        emotions = Counter(r["original_label"] for r in rows if r["speaker"] == speaker)
        assert emotions == {"n": 30, "a": 15, "d": 15, "f": 15, "h": 15, "sa": 15, "su": 15}
    ravdess = Counter(r["emotion"] for r in rows if r["corpus"] == "ravdess")
    assert ravdess == {"neutral": 240, **{e: 160 for e in ("happy", "sad", "angry", "fearful", "disgust",
                                                           "surprised")}}
    assert Counter(r["original_label"] for r in rows if r["corpus"] == "ravdess")["calm"] == 160
    assert {(r["sampling_rate"], r["channels"]) for r in rows} == {(16000, 1)}
    assert all(1.0 < r["duration"] < 8.0 for r in rows)
    assert len({r["word"] for r in rows if r["corpus"] == "tess"}) == 200
    assert Counter(r["gender"] for r in rows) == {"male": 600 + 480, "female": 600 + 2800}


def test_shared_corpora_decode_one_clip_each(shared):
    seen = set()
    for i, corpus in enumerate(shared["corpus"]):
        if corpus in seen:
            continue
        seen.add(corpus)
        row = shared[i]
        x = row["audio"].get_all_samples()
        assert x.sample_rate == 16000 and x.data.shape[0] == 1
        assert abs(x.data.shape[1] - row["duration"] * 16000) <= 2
    assert seen == {"ravdess", "tess", "savee"}
