"""The model card a fine-tuning run writes beside its weights (README.md, Hub metadata on top).

It says what a user of the checkpoint must know and cannot see in the weights: the protocol the
figures were measured with (speaker-independent or not), the corpora and their licences (all
non-commercial), the base model, the label map, and the recipe.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS_INFO = {
    "ravdess": ("RAVDESS (speech)", "CC BY-NC-SA 4.0", "https://zenodo.org/record/1188976"),
    "tess": ("TESS", "CC BY-NC-ND 4.0", "https://doi.org/10.5683/SP2/E8H2MF"),
    "savee": ("SAVEE", "free for research use (University of Surrey)", "http://kahlan.eps.surrey.ac.uk/savee/"),
    "crema_d": ("CREMA-D", "ODbL 1.0", "https://github.com/CheyneyComputerScience/CREMA-D"),
}

PROTOCOL_TEXT = {
    "kfold": "speaker-independent k-fold (no speaker in both training and test)",
    "loso": "leave one speaker out",
    "cross_corpus": "cross-corpus (train on some corpora, test on another)",
    "tess_cross_speaker": "TESS cross-speaker (train on one actress, test on the other)",
    "fixed": "fixed speaker-independent train/validation/test split",
    "random": "random split (speakers leak between training and test: NOT speaker-independent)",
    "none": "trained on all the data given (no held-out speakers in this run)",
}


def _pct(value) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) else "n/a"


def _is_hub_id(name: str) -> bool:
    """``owner/name`` as the Hub spells it, not a local folder (the Hub metadata wants the former)."""
    return name.count("/") == 1 and not Path(name).exists() and not name.startswith((".", "/", "~"))


def render(*, model_name: str, base_model: str, labels: list[str], corpora: list[str], protocol: str,
           fold: str | None, metrics: dict, recipe: dict, history: list[dict] | None = None,
           extra_results: list[dict] | None = None, notes: str = "") -> str:
    """The README.md text: YAML metadata for the Hub, then the card."""
    licences = sorted({CORPUS_INFO.get(c, (c, "see the corpus", ""))[1] for c in corpora})
    metric_rows = [("unweighted accuracy (UA)", metrics.get("eval_unweighted_accuracy")),
                   ("accuracy", metrics.get("eval_accuracy")),
                   ("macro-F1", metrics.get("eval_macro_f1"))]
    meta = [
        "---",
        "license: cc-by-nc-sa-4.0",
        *([f"base_model: {base_model}"] if _is_hub_id(base_model) else []),
        "library_name: transformers",
        "pipeline_tag: audio-classification",
        "tags:", "- audio-classification", "- speech-emotion-recognition", "- ser-hf",
        "datasets:", *[f"- {c}" for c in corpora],
        "metrics:", "- accuracy", "- balanced_accuracy", "- f1",
        "---", "",
    ]
    lines = [
        f"# {model_name}", "",
        f"Speech emotion recognition: `{base_model}` fine-tuned with `finetune/train.py` of "
        f"the ser-hf project on {', '.join(CORPUS_INFO.get(c, (c,))[0] for c in corpora)}.", "",
        "```python",
        "from transformers import pipeline",
        f'classify = pipeline("audio-classification", model="{model_name}")',
        'classify("clip.wav")  # [{"label": "angry", "score": 0.91}, ...]',
        "```", "",
        "## Labels", "",
        "| id | label |", "|---|---|", *[f"| {i} | {name} |" for i, name in enumerate(labels)], "",
        "## Evaluation", "",
        f"Protocol: {PROTOCOL_TEXT.get(protocol, protocol)}" + (f", fold `{fold}`" if fold else "") + ".", "",
    ]
    if any(v is not None for _, v in metric_rows):
        lines += ["| metric | value |", "|---|---|", *[f"| {name} | {_pct(v)} |" for name, v in metric_rows], ""]
    if extra_results:
        lines += ["| measured on | metric | value | notes |", "|---|---|---|---|"]
        lines += [f"| {r['benchmark']} | {r['metric']} | {r['value']} {r['unit']} | {r.get('notes', '')} |"
                  for r in extra_results]
        lines.append("")
    if history:
        # trainer.evaluate() after training repeats the last epoch's entry: keep one per epoch.
        epochs = list({round(h.get("epoch", 0), 2): h for h in history if "eval_unweighted_accuracy" in h}.values())
        if epochs:
            lines += ["Per epoch (held-out set):", "", "| epoch | UA | accuracy | macro-F1 |", "|---|---|---|---|"]
            lines += [f"| {h.get('epoch', 0):.0f} | {_pct(h['eval_unweighted_accuracy'])} | {_pct(h.get('eval_accuracy'))} "
                      f"| {_pct(h.get('eval_macro_f1'))} |" for h in epochs]
            lines.append("")
    lines += [
        "## Training data and licences", "",
        "| corpus | licence | source |", "|---|---|---|",
        *[f"| {CORPUS_INFO.get(c, (c, '?', ''))[0]} | {CORPUS_INFO.get(c, (c, '?', ''))[1]} | "
          f"{CORPUS_INFO.get(c, (c, '?', ''))[2]} |" for c in corpora], "",
        f"The corpora's licences ({'; '.join(licences)}) forbid commercial use, so these weights are "
        "for research and non-commercial use only (CC BY-NC-SA 4.0). The base model's own licence "
        "applies to the parts it contributes.", "",
        "## Recipe", "",
        "```json", json.dumps(recipe, indent=2, sort_keys=True, default=str), "```", "",
    ]
    if notes:
        lines += ["## Notes", "", notes, ""]
    lines += ["## Limitations", "",
              "Acted emotions from a few dozen speakers, read sentences in English: expect much lower "
              "accuracy on spontaneous speech, other languages, noisy audio and unseen recording conditions.", ""]
    return "\n".join(meta + lines)


def write_model_card(output_dir, **fields) -> Path:
    """Write ``README.md`` into ``output_dir`` (see :func:`render` for the fields)."""
    path = Path(output_dir) / "README.md"
    path.write_text(render(**fields))
    return path
