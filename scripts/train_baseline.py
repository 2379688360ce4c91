"""Rebuild the shipped default model ``models/ser-mfcc-cnn`` exactly (seeded) from the shared corpora.

    python scripts/train_baseline.py [--data ../shared/corpora] [--output models/ser-mfcc-cnn]
    python scripts/train_baseline.py --adaptive     # models/ser-mfcc-cnn-adaptive
    python scripts/train_baseline.py --card-only --push-to-hub you/ser-mfcc-cnn   # upload the committed model

``--adaptive`` trains the speaker-adaptive variant instead: the same network and recipe with
the stem's output frames normalised by each training speaker's statistics (speaker CMVN), which
the saved model applies with the statistics of the speaker it is used on (``--no-front-end``: the
log-mel frames, normalised by the feature extractor, the adaptive design until 2026-11-24).

Trains the ``cnn1d`` MFCC-CNN on every clip of RAVDESS (actors 01-20), TESS and SAVEE with the
7-class label set, the recipe of :class:`ser_hf.training.TrainingConfig` (seed 0, 2 threads); both
models start with Whisper tiny.en's frozen convolutional stem (``--front-end-from``: by
default ``$SER_WHISPER`` or ``../shared/models/whisper-tiny.en``, ``openai/whisper-tiny.en`` on the
Hub; the saved weights carry the stem, so using the model needs no Whisper checkpoint),
then saves config, safetensors weights and feature-extractor config, and writes the model card
(``README.md``) with the speaker-independent figures of ``bench/baseline.py``
(``bench/results/baseline.json``; ``--card-only`` rewrites just the card).
Determinism: same seed, same data, same thread count and torch build give the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.finetune import BACKBONE  # noqa: E402  ($SER_WHISPER or ../shared/models/whisper-tiny.en)

CORPORA = ("ravdess", "tess", "savee")
# Whisper tiny.en, whose convolutional stem the per-clip model starts with: the benchmarks' checkpoint
# (the offline copy here; ``openai/whisper-tiny.en``, the same weights, where the Hub is reachable).
WHISPER = str(BACKBONE)
# The adaptive model keeps the +-2 semitone copies it was built with: the +-4 of today's default
# (WaveAugmenter) was measured for the per-clip model only.
ADAPTIVE_AUGMENTER = {"semitones": [-2.0, 2.0]}


# The per-clip model's front end: the stem and Whisper's first transformer layer, int8, at 25 frames a second
# (its measurements: ser_hf.training.SHIPPED_DESIGN's comment).
from ser_hf.training import SHIPPED_DESIGN  # noqa: E402

def train_shipped(data, output, threads: int = 2, progress: bool = True, adaptive: bool = False,
                  front_end_from: str | None = WHISPER, model_overrides: dict | None = None) -> dict:
    """Train the shipped recipe on ``data`` into ``output``; return timings and counts.

    Both models start with ``front_end_from``'s frozen conv stem (``None``: without one); the per-clip
    model also with its first transformer layer (``SHIPPED_DESIGN``).
    ``model_overrides``: :class:`MfccCnnConfig` fields that differ from the default design, so a
    benchmark times a candidate exactly as the shipped model is timed. A model with transformer
    layers in its front end is stored in float16 (:func:`ser_hf.models.save_model`).
    """
    import torch

    from ser_hf.corpora import load_corpora
    from ser_hf.models import save_model
    from ser_hf.training import TrainingConfig, default_cache_dir, train_on_all

    torch.use_deterministic_algorithms(True, warn_only=True)
    if model_overrides is None:
        model_overrides = SHIPPED_DESIGN if front_end_from and not adaptive else {}
    config = TrainingConfig(seed=0, threads=threads, speaker_norm=adaptive, model_overrides=dict(model_overrides or {}),
                            augmenter=dict(ADAPTIVE_AUGMENTER) if adaptive else {},
                            front_end_from=str(front_end_from) if front_end_from else None)
    cached_before = set(default_cache_dir().glob("*.arrow")) if default_cache_dir().is_dir() else set()
    start = time.perf_counter()
    ds = load_corpora(data, names=CORPORA, label_set="7")
    loaded = time.perf_counter() - start
    out = train_on_all(ds, ds.features["emotion"].names, "cnn1d", config, output_dir=Path(output) / ".trainer",
                       progress=progress)
    model, fe, features = out["model"], out["feature_extractor"], out["features"]
    cache_hit = all(Path(f["filename"]) in cached_before for f in features.cache_files)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    save_model(model, output)
    fe.save_pretrained(output)
    info = {
        "recipe": {**config.to_dict(), "architecture": "cnn1d", "label_set": "7", "corpora": list(CORPORA)},
        "effects": config.wave_augmenter().to_dict(),
        "clips": len(ds), "training_rows": len(features),
        "clips_per_corpus": {c: ds["corpus"].count(c) for c in CORPORA},
        "seconds_features": round(loaded + out["seconds_features"], 1),
        "seconds_training": round(out["seconds_training"], 1),
        "seconds_total": round(loaded + out["seconds_features"] + out["seconds_training"], 1),
        "feature_cache_hit": cache_hit, "init_seeded": True, "threads": threads, "cpus": os.cpu_count(),
        "parameters": parameter_count(model),
    }
    (output / "training_info.json").write_text(json.dumps(info, indent=1) + "\n")
    import shutil

    shutil.rmtree(output / ".trainer", ignore_errors=True)
    return info


def parameter_count(model) -> int:
    """Trained and frozen weights alike: the parameters, and the int8 weights kept as buffers."""
    import torch

    return (sum(p.numel() for p in model.parameters())
            + sum(b.numel() for b in model.buffers() if b.dtype == torch.int8))


CARD = """---
license: other
license_name: non-commercial-research
license_details: >-
  Trained on RAVDESS (CC BY-NC-SA 4.0), TESS (CC BY-NC-ND 4.0) and SAVEE (free for research use).
  The weights are derived from these corpora: use them for non-commercial research only,
  with attribution to the corpora's authors.{stem_licence_yaml}
library_name: transformers
pipeline_tag: audio-classification
tags:
- audio-classification
- speech-emotion-recognition
- mfcc
- cnn
- ser-hf
datasets:
- RAVDESS
- TESS
- SAVEE
metrics:
- accuracy
- balanced_accuracy
- f1
---

# {name}: {title}

{description}

```python
{usage}
```

## Labels

{labels}

(RAVDESS's *calm* is merged into *neutral*; TESS's *pleasant surprise* is *surprised*.)

## Training data

Every clip of three acted corpora, {clips} clips: {per_corpus}. RAVDESS actors 21-24 were
held out of the shared copy and never seen. Recipe (`ser_hf.training.TrainingConfig`):
{recipe}. Each training clip also appears once with waveform augmentation (additive noise
at {snr} dB SNR, time stretch {stretch}, pitch shift within {semitones} semitones, time shift
up to {shift} s, each with probability {p}), rendered once in the cached feature map; every
epoch adds random 2.5 s crops and SpecAugment masks. Trained in {seconds:.0f} s ({threads} thread(s)).

## Evaluation (speaker-independent: no test speaker heard in training)

These figures come from retraining the same recipe on each fold (`python -m bench baseline`;
full reports with confusion matrices in `bench/results/baseline/`). The shipped model itself
was trained on all speakers, so any figure computed on the shared corpora with it would be
inflated. {evaluation}

{metrics}

UA is unweighted accuracy (mean per-class recall, `balanced_accuracy_score`), the figure the
speech-emotion literature reports. Acted corpora are far easier than real speech: expect much
lower accuracy on spontaneous recordings, other languages, and noisy microphones.

## Licence and intended use

Non-commercial research and demonstration only, as the training corpora require (RAVDESS:
CC BY-NC-SA 4.0, Livingstone & Russo 2018; TESS: CC BY-NC-ND 4.0, Dupuis & Pichora-Fuller
2010; SAVEE: research use, Haq & Jackson 2009). Not for decisions about people.{stem_licence}

## Rebuild

```bash
python scripts/train_baseline.py --data ../shared/corpora{rebuild}
```

Seeded (seed 0): the same data, thread count, torch build and CPU give the same weights; another
CPU rounds differently, and {epochs} epochs amplify it (a seed-0 RAVDESS 5-fold run scored 61.1 % on one
2-core machine and 63.1 % on another).{reproducible}
"""


VARIANTS = {
    False: {
        "name": "ser-mfcc-cnn", "title": "a small CNN over log-mel frames for speech emotion recognition",
        "description": """The default model of [ser-hf](../../README.md): a 1-D CNN over 64 log-mel bands and their
deltas (per-utterance normalised), batch norm, global mean+max pooling; {parameters:,} parameters,
{size_mb:.2f} MB of safetensors. It reads 16 kHz mono audio of any length (leading and trailing
silence below 30 dB of the peak is trimmed by the feature extractor, the same code in training
and inference) and answers one of 7 emotions.""",
        "description_stem": """The default model of [ser-hf](../../README.md): Whisper tiny.en's convolutional stem (its two
1-D convolutions over 80 log-mel bands, 534k parameters, copied from OpenAI's checkpoint and kept
frozen: filters learnt from 680,000 hours of many speakers' speech) followed by a 1-D CNN trained here
(per-utterance normalised, batch norm, global mean+max pooling); {parameters:,} parameters,
{size_mb:.2f} MB of safetensors, the stem included: using the model needs no Whisper checkpoint. It
reads 16 kHz mono audio of any length (leading and trailing silence below 30 dB of the peak is
trimmed by the feature extractor, the same code in training and inference) and answers one of 7
emotions. On unseen speakers the stem is worth {savee_gain} points on SAVEE and {all3_gain} on the three
corpora over the same network on log-mel alone (the rows below with and without it).""",
        "description_layer": """The default model of [ser-hf](../../README.md): Whisper tiny.en's convolutional stem (its two
1-D convolutions over 80 log-mel bands) and its first transformer layer (self-attention over the clip and
a feed-forward block, with Whisper's sinusoidal positions), copied from OpenAI's checkpoint and kept
frozen, the layer's linear weights rounded to int8 (a scale per row), the stem's second convolution read at
every 4th frame (25 frames a second, where Whisper reads 50: a third less time per clip), followed by a 1-D CNN trained here
(per-utterance normalised, batch norm, global mean+max pooling); {parameters:,} parameters,
{size_mb:.2f} MB of safetensors (stored in float16 and int8, computed in float32), Whisper's part
included: using the model needs no Whisper checkpoint. It reads 16 kHz mono audio of any length
(leading and trailing silence below 30 dB of the peak is trimmed by the feature extractor, the same
code in training and inference) and answers one of 7 emotions. Why the layer: the stem's 3-frame
filters see 60 ms of audio; one layer of attention relates every frame to the whole clip with weights
learnt from 680,000 hours of many speakers' speech, and on unseen speakers it lifts SAVEE from
{savee_stem} to {savee_per_clip} and the three corpora from {all3_stem} to {all3_per_clip} (the rows below).""",
        "usage": """import ser_hf  # registers the mfcc_cnn model type with the Auto classes
from transformers import pipeline

classify = pipeline("audio-classification", model="models/ser-mfcc-cnn")
classify("clip.wav", top_k=None)""",
        "evaluation": """The shipped model normalises each clip by itself: its figures are the rows without
"speaker CMVN". Rows marked "speaker CMVN" are the same network trained and tested on features
normalised by each speaker's mean and variance, the test speaker's computed from its own
unlabelled test audio (transductive, no labels): what its speaker-adaptive sibling
(`models/ser-mfcc-cnn-adaptive`) does with some speech of the speaker, not what this model does
on a lone clip.""",
        "evaluation_stem": """This model's own recipe is measured by the rows naming Whisper tiny.en's conv stem and a pitch
shift of +-4 semitones, without "speaker CMVN"; the rows with the stem and +-2 semitones are the
recipe shipped from 2026-11-24 to 11-25, the other rows without "speaker CMVN" the same network
without the stem (shipped until 2026-11-24), for comparison. Rows marked "speaker CMVN" are trained and tested
on frames normalised by each speaker's mean and variance (with the stem: of its output), the test
speaker's computed from its own unlabelled test audio (transductive, no labels): what the
speaker-adaptive sibling (`models/ser-mfcc-cnn-adaptive`, the rows with the stem) does with some
speech of the speaker, not what this model does on a lone clip.""",
        "evaluation_layer": """This model's own recipe is measured by the rows naming "its first transformer layer (its
weights in int8), at 25 frames a second"; the rows naming the int8 layer without "25 frames a second" are the
design shipped from 2026-11-25 to 2026-12-07 (Whisper's 50 frames a second), those naming the layer without
int8 the same with float weights. The rows naming the stem and a pitch shift of +-4
semitones alone are the design shipped until 2026-11-25 (without the layer); with +-2 semitones, the
one before; the rows without the stem and without "speaker CMVN", the network on log-mel (shipped until
2026-11-24). Rows marked "speaker CMVN" are trained and tested on frames normalised by each speaker's
mean and variance, the test speaker's computed from its own unlabelled test audio (transductive, no
labels): what the speaker-adaptive sibling (`models/ser-mfcc-cnn-adaptive`) does with some speech of
the speaker, not what this model does on a lone clip.""",
        "rows": lambda r: True, "rebuild": " --output models/ser-mfcc-cnn",
    },
    True: {
        "name": "ser-mfcc-cnn-adaptive", "title": "the MFCC-CNN baseline, adapted to each speaker",
        "description": """The speaker-adaptive sibling of [ser-hf](../../README.md)'s default model: the same 1-D CNN
({parameters:,} parameters, {size_mb:.2f} MB of safetensors) trained on log-mel frames measured
against each speaker's usual voice (the mean and variance of every band over the speaker's speech:
speaker CMVN) instead of against the clip's own average. Emotion is a departure from how a person
usually sounds, which one clip alone cannot show: on SAVEE's unseen speakers this model scores 56.4 %
against 48.6 % for the per-clip model (3 seeds each). On RAVDESS and the three corpora together the
per-clip model, which starts with Whisper's conv stem, is now the better one (67.1 against 64.1 %, 63.8
against 60.3 %). This model needs some speech of the speaker
first (about 20 clips, a minute of speech; see the enrolment rows below). For recordings of one speaker per
file or channel (a call centre's agent or caller channel, a car's driver): `timeline()` gathers the
statistics from the recording as it goes. They must be the speaker's usual voice: a recording
that is all anger makes anger look usual, and then the per-clip model does better. On a lone
clip without statistics it refuses to guess.""",
        "description_stem": """The speaker-adaptive sibling of [ser-hf](../../README.md)'s default model: the same network
(Whisper tiny.en's convolutional stem, two 1-D convolutions over 80 log-mel bands copied from OpenAI's
checkpoint and kept frozen, then a 1-D CNN trained here; {parameters:,} parameters, {size_mb:.2f} MB of
safetensors, the stem included), but the stem's output is measured against each speaker's usual
voice (the mean and variance of each of its channels over the speaker's speech: speaker CMVN)
instead of against the clip's own average. Emotion is a departure from how a person usually
sounds, which one clip alone cannot show: on unseen speakers this model's recipe scores
{savee_adaptive} on SAVEE (3 seeds) and {all3_adaptive} on the three corpora (one seed), against
{savee_per_clip} and {all3_per_clip} for the per-clip model, and {savee_adaptive_plain} and {all3_adaptive_plain} for the
adaptive design it replaced (speaker CMVN of the log-mel frames, which cannot come before the
stem: the stem reads the clip's own decibels). This model needs some speech of the speaker first
(about 20 clips, a minute of speech; 10 clips get within a point of that: see the enrolment rows
below). For recordings of one speaker per file or channel (a call
centre's agent or caller channel, a car's driver): `timeline()` gathers the statistics from the
recording as it goes. They must be the speaker's usual voice: a recording that is all anger
makes anger look usual. On a lone clip without statistics it refuses to guess.""",
        "usage": """from ser_hf import EmotionRecognizer

recognizer = EmotionRecognizer.from_pretrained("models/ser-mfcc-cnn-adaptive")
recognizer.timeline("call_agent_channel.wav")             # adapts to the recording as it goes
speaker = recognizer.speaker_statistics(["a.wav", "b.wav", "c.wav"])  # or enrol a speaker once
recognizer.predict("d.wav", speaker=speaker)""",
        "evaluation": """Its figures are the rows marked "speaker CMVN": each fold's test speakers are normalised by
their own unlabelled test audio, as `timeline()` does with a recording; the enrolment rows use only
a few random clips of each test speaker.""",
        "evaluation_stem": """Its design is measured by the rows naming Whisper tiny.en's conv stem and marked "speaker
CMVN": each fold's test speakers are measured against their own unlabelled test audio, as
`timeline()` does with a recording; the enrolment rows use only a few random clips of each test
speaker. The other "speaker CMVN" rows are the design it replaced (log-mel frames normalised by
the feature extractor, no stem).""",
        "rows": lambda r: "speaker CMVN" in r["benchmark"] or r.get("experiment") == "adaptive_enrolment",
        "rebuild": " --adaptive",
    },
}


def _figures(rows: list[dict]) -> dict:
    """The UA figures the cards' prose quotes, from the benchmark rows: the stem's gain over the same
    network on log-mel (``savee_seeds``' per-clip mean, ``all3_kfold``'s per-clip row), and the
    adaptive stem design against the per-clip one and the adaptive design it replaced."""
    def value(experiment, adaptive):
        for r in rows:
            if r.get("experiment") == experiment and r.get("unit") == "%" and ("speaker CMVN" in r["benchmark"]) == adaptive:
                return r["value"]
        return None

    figures = {}
    for key, stem, base in (("savee_gain", "savee_whisper_stem", "savee_seeds"), ("all3_gain", "all3_whisper_stem", "all3_kfold")):
        a, b = value(stem, False), value(base, False)
        figures[key] = f"{a - b:.1f}" if a is not None and b is not None else "(not measured)"
    for key, experiment, adaptive in (
            ("savee_adaptive", "savee_whisper_stem_spk", True), ("savee_stem", "savee_whisper_stem_pitch4", False),
            ("savee_per_clip", "savee_whisper_layer1_int8_s4", False), ("all3_stem", "all3_whisper_stem_pitch4", False),
            ("savee_adaptive_plain", "savee_seeds", True), ("all3_adaptive", "all3_whisper_stem_spk", True),
            ("all3_per_clip", "all3_whisper_layer1_int8_s4", False), ("all3_adaptive_plain", "all3_kfold", True)):
        v = value(experiment, adaptive)
        figures[key] = f"{v:.1f} %" if v is not None else "(not measured)"
    return figures


def _effects(info: dict) -> dict:
    """The card's words for the augmented copies' effects the model was trained with (``training_info.json``;
    one written before it listed them had those of then: :func:`ser_hf.augment.recorded_effects`)."""
    from ser_hf.augment import WaveAugmenter, recorded_effects

    aug = WaveAugmenter(**recorded_effects(info.get("effects"), info["recipe"].get("augmenter")))
    span = lambda pair, fmt="g": "-".join(format(v, fmt) for v in pair)  # noqa: E731
    return {"snr": span(aug.snr_db), "stretch": span(aug.stretch, ".2f"), "shift": f"{aug.shift_s:g}",
            "semitones": f"{max(abs(v) for v in aug.semitones):g}", "p": f"{aug.p:g}"}


def write_card(output, adaptive: bool = False) -> None:
    """The model card, filled from training_info.json and bench/results/baseline.json."""
    output = Path(output)
    info = json.loads((output / "training_info.json").read_text())
    config = json.loads((output / "config.json").read_text())
    labels = ", ".join(f"`{i}` {config['id2label'][str(i)]}" for i in range(len(config["id2label"])))
    variant = VARIANTS[adaptive]
    results = REPO / "bench" / "results" / "baseline.json"
    rows = json.loads(results.read_text()) if results.exists() else []
    lines = ["| protocol | metric | value | goal | met | notes |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if (r.get("unit") == "%" and variant["rows"](r) and r.get("experiment") in (
                "ravdess_kfold", "ravdess_wide", "savee_loso", "savee_loso_plus", "savee_seeds", "all3_kfold",
                "savee_whisper_stem", "ravdess_whisper_stem", "all3_whisper_stem", "ravdess_whisper_stem_seeds",
                "all3_whisper_stem_seeds", "savee_whisper_stem_pitch4", "ravdess_whisper_stem_pitch4",
                "all3_whisper_stem_pitch4", "savee_whisper_stem_spk", "savee_whisper_layer1", "savee_whisper_layer1_int8",
                "all3_whisper_layer1", "all3_whisper_layer1_int8", "ravdess_whisper_layer1_int8",
                "savee_whisper_layer1_int8_s4", "all3_whisper_layer1_int8_s4", "ravdess_whisper_layer1_int8_s4",
                "tess_whisper_layer1_int8", "tess_whisper_layer1_int8_s4",
                "ravdess_whisper_stem_spk", "all3_whisper_stem_spk",
                "tess", "adaptive_enrolment")):
            met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
            lines.append(f"| {r['benchmark']} | {r['metric']} | {r['value']:.2f} % | {r.get('goal') or ''} "
                         f"| {met} | {r.get('notes', '')} |")
    recipe = dict(info["recipe"])
    stem = config.get("front_end") == "whisper"
    if recipe.get("front_end_from"):
        recipe["front_end_from"] = Path(recipe["front_end_from"]).name  # a local folder: its name, not this machine's path
    sizes = {"parameters": info["parameters"], "size_mb": (output / "model.safetensors").stat().st_size / 1e6,
             **_figures(rows)}
    layer = bool(config.get("front_end_layers"))
    description = variant["description_layer" if layer and "description_layer" in variant else
                          "description_stem" if stem and "description_stem" in variant else "description"]
    whisper_part = "its first two convolutions" + (" and first transformer layer" if layer else "")
    print(CARD.format(
        stem_licence_yaml=f"\n  {whisper_part.capitalize()} are OpenAI's Whisper tiny.en weights (MIT licence)." if stem else "",
        stem_licence=(f"\n\n{whisper_part.capitalize().replace('Its ', 'The ')} are OpenAI's Whisper tiny.en weights, "
                      f"{'the layer rounded to int8' if layer else 'unchanged'} "
                      "(MIT licence, Copyright (c) 2022 OpenAI; https://github.com/openai/whisper).") if stem else "",
        name=variant["name"], title=variant["title"], description=description.format(**sizes),
        usage=variant["usage"], rebuild=variant["rebuild"],
        evaluation=variant["evaluation_layer" if layer and "evaluation_layer" in variant else
                           "evaluation_stem" if stem and "evaluation_stem" in variant else "evaluation"],
        labels=labels, clips=info["clips"], seconds=info["seconds_total"], threads=info["threads"],
        **_effects(info),
        per_corpus=", ".join(f"{k.upper()} {v}" for k, v in info["clips_per_corpus"].items()),
        recipe=", ".join(f"{k} {v}" for k, v in recipe.items() if k not in ("corpora",)),
        epochs=info["recipe"]["epochs"],
        metrics="\n".join(lines),
        reproducible="" if info.get("init_seeded") else (
            " The weights committed here were trained (1 thread) before the script also seeded the initial "
            "weights, so a rerun gives a model of the same recipe rather than these exact bits; commit the "
            "rerun's output to make them reproducible.")), file=open(output / "README.md", "w"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "corpora")))
    parser.add_argument("--output", type=Path,
                        help="model folder (default models/ser-mfcc-cnn, or models/ser-mfcc-cnn-adaptive with --adaptive)")
    parser.add_argument("--adaptive", action="store_true",
                        help="train the speaker-adaptive variant (speaker CMVN) instead of the per-clip model")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads and feature workers (default 2, as the shipped weights were trained; another count may change the last bits)")
    parser.add_argument("--front-end-from", default=WHISPER, metavar="WHISPER",
                        help="Whisper checkpoint (folder or Hub id, e.g. openai/whisper-tiny.en) whose conv stem the "
                             "model starts with (default $SER_WHISPER or ../shared/models/whisper-tiny.en)")
    parser.add_argument("--no-front-end", action="store_true", help="train the model without the Whisper stem")
    parser.add_argument("--stem-only", action="store_true",
                        help="the per-clip model's front end without Whisper's first transformer layer (the design "
                             "shipped until 2026-11-25)")
    parser.add_argument("--card-only", action="store_true", help="only rewrite README.md from the last results")
    parser.add_argument("--push-to-hub", metavar="REPO_ID",
                        help="then upload the model folder, model card included, to this Hub repo (created if "
                             "missing; log in first with `hf auth login` or set HF_TOKEN)")
    args = parser.parse_args(argv)
    args.output = args.output or REPO / "models" / ("ser-mfcc-cnn-adaptive" if args.adaptive else "ser-mfcc-cnn")
    if not args.card_only:
        info = train_shipped(args.data, args.output, threads=args.threads, adaptive=args.adaptive,
                             front_end_from=None if args.no_front_end else args.front_end_from,
                             model_overrides={} if args.stem_only else None)
        print(json.dumps(info, indent=1))
    write_card(args.output, adaptive=args.adaptive)
    if args.push_to_hub:
        print(push_to_hub(args.output, args.push_to_hub))
    return 0


def push_to_hub(folder, repo_id: str) -> str:
    """Upload ``folder`` as it is (float16 weights, configs, the model card with its licence) to ``repo_id``.

    Why not ``model.push_to_hub``: it saves the weights it holds, in float32 (5.9 MB for the shipped model), and
    writes a generic card where this folder's card names the corpora's non-commercial licences."""
    from huggingface_hub import HfApi

    api = HfApi()
    repo_id = api.create_repo(repo_id, exist_ok=True).repo_id
    return api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="Upload ser-hf's MFCC-CNN baseline",
                             ignore_patterns=[".trainer/*"]).commit_url


if __name__ == "__main__":
    sys.exit(main())
