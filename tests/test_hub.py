"""The Hub round trip, with the real client code against a Hub on loopback (tests/hub_server.py): both kinds of
model go up with ``push_to_hub`` and come back with ``pipeline``, and the rebuild script uploads the shipped
folder with its card. The pushes run in a child process, as ``HF_ENDPOINT`` is read when huggingface_hub loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from hub_server import client_env, serve


@pytest.fixture()
def hub(tmp_path):
    server, repos = serve()
    yield repos, client_env(server, {**os.environ, "OMP_NUM_THREADS": "1"}, tmp_path / "hf_home")
    server.shutdown()


def _run(code: str, env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


PUSH_AND_PULL = """
import json, sys
import ser_hf  # registers the MFCC-CNN with the Auto classes
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, pipeline
folder, repo, clip = sys.argv[1:]
AutoModelForAudioClassification.from_pretrained(folder).push_to_hub(repo)
AutoFeatureExtractor.from_pretrained(folder).push_to_hub(repo)
print(json.dumps({"hub": pipeline("audio-classification", model=repo)(clip, top_k=None),
                  "local": pipeline("audio-classification", model=folder)(clip, top_k=None)}))
"""


@pytest.mark.parametrize("kind", ["mfcc-cnn", "wav2vec2"])
def test_push_to_hub_and_pipeline_from_the_hub_as_for_wav2vec2(kind, hub, tiny_wav2vec2, data_root):
    repos, env = hub
    folder = REPO / "models" / "ser-mfcc-cnn" if kind == "mfcc-cnn" else tiny_wav2vec2
    out = json.loads(_run(PUSH_AND_PULL, env, str(folder), f"me/ser-{kind}",
                          str(data_root / "SAVEE" / "DC_a01.flac")).splitlines()[-1])
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= set(repos[f"me/ser-{kind}"])
    assert out["hub"] == out["local"] and len(out["hub"]) == 7
    if kind == "mfcc-cnn":  # the shipped model, through the Hub, still hears the anger in this clip
        assert out["hub"][0]["label"] == "angry"


def test_the_rebuild_script_uploads_the_shipped_folder_with_its_card(hub, tmp_path):
    repos, env = hub
    folder = tmp_path / "ser-mfcc-cnn"
    shutil.copytree(REPO / "models" / "ser-mfcc-cnn", folder)
    _run("import runpy, sys; sys.argv[0] = 'train_baseline.py'; runpy.run_path('scripts/train_baseline.py', "
         "run_name='__main__')", env, "--card-only", "--output", str(folder), "--push-to-hub", "me/ser-mfcc-cnn")
    uploaded = repos["me/ser-mfcc-cnn"]
    assert set(uploaded) == {p.name for p in folder.iterdir()}
    assert uploaded["model.safetensors"] == (REPO / "models" / "ser-mfcc-cnn" / "model.safetensors").read_bytes()
    assert uploaded["README.md"] == (folder / "README.md").read_bytes()
    assert b"license_name: non-commercial-research" in uploaded["README.md"]
