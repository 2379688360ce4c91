"""Splits keep speakers apart, are deterministic, and the overlap check catches leaks."""

import numpy as np
import pytest
from datasets import DatasetDict

import ser_hf
from ser_hf import splits


@pytest.fixture(scope="module")
def ravdess(data_root):
    return ser_hf.load_corpus("ravdess", data_root / "RAVDESS", label_set="8", probe_audio=False)


@pytest.fixture(scope="module")
def shared(data_root):
    return ser_hf.load_corpora(data_root, probe_audio=False)


def speakers(ds):
    return set(ds["speaker"])


def test_ravdess_kfold_is_five_folds_of_four_actors(ravdess):
    folds = splits.speaker_kfold(ravdess, n_folds=5, seed=0)
    assert len(folds) == 5
    tested = [speakers(f["test"]) for f in folds]
    assert all(len(t) == 4 for t in tested)
    assert set().union(*tested) == speakers(ravdess)  # every actor tested exactly once
    assert sum(len(t) for t in tested) == 20
    for fold in folds:
        assert not speakers(fold["train"]) & speakers(fold["test"])
        assert len(fold["train"]) + len(fold["test"]) == 1200
        # stratified: each test fold holds all 8 emotions
        assert len(set(fold["test"]["emotion"])) == 8


def test_kfold_is_deterministic_and_seeded(ravdess):
    a = [sorted(speakers(f["test"])) for f in splits.speaker_kfold(ravdess, seed=0)]
    b = [sorted(speakers(f["test"])) for f in splits.speaker_kfold(ravdess, seed=0)]
    c = [sorted(speakers(f["test"])) for f in splits.speaker_kfold(ravdess, seed=1)]
    assert a == b
    assert a != c


def test_leave_one_speaker_out(shared):
    savee = shared.filter(lambda c: c == "savee", input_columns="corpus")
    folds = splits.protocol_folds(savee, "loso")
    assert [name for name, _ in folds] == ["savee_DC", "savee_JE", "savee_JK", "savee_KL"]
    for name, fold in folds:
        assert speakers(fold["test"]) == {name}
        assert name not in speakers(fold["train"])
        assert len(fold["test"]) == 120


def test_fixed_split_is_speaker_independent(shared):
    dd = splits.train_val_test(shared, seed=0)
    assert set(dd) == {"train", "validation", "test"}
    assert sum(len(s) for s in dd.values()) == len(shared)
    parts = [speakers(s) for s in dd.values()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_cross_corpus_and_tess_cross_speaker(shared):
    dd = splits.cross_corpus(shared, train=("ravdess", "savee"), test="tess")
    assert set(dd["train"]["corpus"]) == {"ravdess", "savee"} and set(dd["test"]["corpus"]) == {"tess"}
    assert (len(dd["train"]), len(dd["test"])) == (1680, 2800)
    with pytest.raises(ValueError, match="crema_d"):
        splits.cross_corpus(shared, train="ravdess", test="crema_d")
    tess = splits.tess_cross_speaker(shared, train_speaker="tess_YAF")
    assert speakers(tess["train"]) == {"tess_YAF"} and speakers(tess["test"]) == {"tess_OAF"}


def test_random_split_is_stratified_and_leaks_speakers(shared):
    dd = splits.random_split(shared, test_size=0.2, seed=0)
    assert len(dd["test"]) == 896
    train_counts = np.bincount(dd["train"]["emotion"], minlength=7) / len(dd["train"])
    test_counts = np.bincount(dd["test"]["emotion"], minlength=7) / len(dd["test"])
    assert np.allclose(train_counts, test_counts, atol=0.01)
    # the reason this split is only for reproducing the seeds: every speaker is on both sides
    with pytest.raises(ValueError, match="is in both"):
        splits.check_speaker_independent(dd)


def test_overlap_check_catches_a_leak(ravdess):
    fold = splits.speaker_kfold(ravdess)[0]
    assert splits.check_speaker_independent(fold) is fold
    leaked = DatasetDict(train=fold["train"], test=fold["test"].select(range(3)).flatten_indices())
    leaked["train"] = ravdess.select(range(0, 1200, 7))  # every actor, so every test actor too
    with pytest.raises(ValueError, match="is in both 'train' and 'test'"):
        splits.check_speaker_independent(leaked)


def test_unknown_protocol_and_too_few_speakers(shared):
    with pytest.raises(ValueError, match="unknown protocol"):
        splits.protocol_folds(shared, "shuffle")
    tess = shared.filter(lambda c: c == "tess", input_columns="corpus")
    with pytest.raises(ValueError, match="need at least 5 speakers"):
        splits.speaker_kfold(tess, n_folds=5)
