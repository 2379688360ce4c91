"""``ser train --data ROOT``: train the MFCC-CNN baseline on chosen corpora, label set and split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..models.mfcc_cnn.configuration_mfcc_cnn import ARCHITECTURES
from ..taxonomy import LABEL_SETS

logger = logging.getLogger(__name__)


# Defaults of the recipe options, which ``ser evaluate`` also compares with to tell what a user chose.
DEFAULTS = {"epochs": 20, "augment_copies": 1, "seed": 0, "speaker_norm": False}


def add_data_arguments(parser) -> None:
    """The data options ``train`` and ``evaluate`` share."""
    parser.add_argument("--data", type=Path, required=True, help="folder holding the corpus folders (RAVDESS, TESS, ...)")
    parser.add_argument("--corpora", nargs="+", metavar="NAME", help="corpora to use (default: all found)")
    parser.add_argument("--label-set", default="7", choices=sorted(LABEL_SETS, key=int, reverse=True),
                        help="emotion label set (default 7: calm merged into neutral)")
    parser.add_argument("--architecture", default="cnn1d", choices=ARCHITECTURES,
                        help="baseline network (default cnn1d; cnn2d: 2-D convolutions over bands and time, "
                             "slower and no better on SAVEE; seed: seed 000's Conv1D network)")
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                        help="training epochs, each over the clean clips and their augmented copies (default 20)")
    parser.add_argument("--augment-copies", type=int, default=DEFAULTS["augment_copies"],
                        help="waveform-augmented copies of each training clip, cached (default 1)")
    effects = parser.add_argument_group("augmented copies", "the waveform effects of each augmented copy, each "
                                        "applied with probability --effect-p (default: ser_hf.augment.WaveAugmenter's)")
    effects.add_argument("--noise-snr", type=float, nargs=2, metavar=("LOW", "HIGH"),
                         help="white noise at an SNR drawn from LOW..HIGH dB (default 10 30)")
    effects.add_argument("--stretch", type=float, nargs=2, metavar=("LOW", "HIGH"),
                         help="time stretch by a rate drawn from LOW..HIGH (default 0.85 1.15)")
    effects.add_argument("--pitch", type=float, nargs=2, metavar=("LOW", "HIGH"),
                         help="pitch shift by LOW..HIGH semitones (default -4 4)")
    effects.add_argument("--time-shift", type=float, metavar="SECONDS", help="time shift up to +-SECONDS (default 0.2)")
    effects.add_argument("--effect-p", type=float, metavar="P", help="probability of each effect (default 0.6)")
    parser.add_argument("--reduce-noise", action="store_true",
                        help="reduce stationary noise before the features (noisereduce), in training and, as the "
                             "saved feature extractor does it, in inference (default off: the corpora are clean)")
    parser.add_argument("--no-trim", action="store_true",
                        help="keep leading and trailing silence (by default trimmed below 30 dB of the peak)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--speaker-norm", action="store_true",
                        help="speaker CMVN: features normalised by each speaker's statistics. train saves a "
                             "speaker-adaptive model (as models/ser-mfcc-cnn-adaptive), which needs some speech of "
                             "each speaker it is used on; evaluate normalises a test speaker by its own unlabelled "
                             "audio (transductive: say so when you report it)")
    parser.add_argument("--front-end-from", metavar="WHISPER", default=None,
                        help="a Whisper checkpoint (folder or Hub id, e.g. openai/whisper-tiny.en) whose two conv "
                             "layers become the cnn1d network's first layers, frozen (their output is computed once "
                             "per clip and cached, so a step costs about what the network alone costs; SAVEE "
                             "leave-one-speaker-out 48.6 %% against 40.5 %% per clip, three seeds; with "
                             "--speaker-norm the statistics are taken over the stem's output)")
    parser.add_argument("--front-end-layers", type=int, default=0, metavar="N",
                        help="with --front-end-from: also the checkpoint's first N transformer layers, frozen, "
                             "after its conv layers (default 0)")
    parser.add_argument("--shipped-design", action="store_true",
                        help="the design of models/ser-mfcc-cnn: Whisper's stem and first transformer layer, frozen, "
                             "the layer's linear weights in int8, at 25 frames a second, saved in float16 (from "
                             "--front-end-from, by default $SER_WHISPER or openai/whisper-tiny.en). With the "
                             "defaults otherwise and --split all on RAVDESS, TESS and SAVEE, scripts/train_baseline.py's "
                             "recipe")


def model_overrides(args) -> dict:
    """The :class:`MfccCnnConfig` fields the data arguments set (``TrainingConfig.model_overrides``)."""
    from ..errors import SerError
    from ..training import SHIPPED_DESIGN

    if args.shipped_design:
        if args.front_end_layers not in (0, SHIPPED_DESIGN["front_end_layers"]) or args.architecture != "cnn1d":
            raise SerError("--shipped-design is the cnn1d network with one front-end layer: drop --front-end-layers "
                           "and --architecture, or drop --shipped-design")
        return dict(SHIPPED_DESIGN)
    return {"front_end_layers": args.front_end_layers} if args.front_end_layers else {}


def augmenter(args) -> dict:
    """The :class:`~ser_hf.augment.WaveAugmenter` fields the effect options set (``TrainingConfig.augmenter``)."""
    chosen = {"snr_db": args.noise_snr, "stretch": args.stretch, "semitones": args.pitch, "shift_s": args.time_shift,
              "p": args.effect_p}
    return {k: v for k, v in chosen.items() if v is not None}


def feature_overrides(args) -> dict:
    """The feature extractor's preprocessing the options change (``TrainingConfig.feature_overrides``)."""
    return {**({"reduce_noise": True} if args.reduce_noise else {}), **({"trim_db": None} if args.no_trim else {})}


def front_end_from(args) -> str | None:
    """The Whisper checkpoint of the front end: ``--front-end-from``, or with ``--shipped-design`` ``$SER_WHISPER``
    or the Hub's ``openai/whisper-tiny.en``."""
    from ..training import default_whisper

    if args.front_end_from or not args.shipped_design:
        return args.front_end_from
    return default_whisper()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the MFCC-CNN baseline",
        description="Train the MFCC-CNN baseline with transformers.Trainer and save it with save_pretrained "
                    "(config, safetensors, feature-extractor config). --split all trains on every clip; "
                    "--split fixed holds out a speaker-independent test split and reports on it.")
    add_data_arguments(parser)
    parser.add_argument("--split", default="fixed", choices=("all", "fixed", "random"),
                        help="all: train on everything; fixed: speaker-independent train/test split (default); "
                             "random: a speaker-leaking random split (only to reproduce the seeds)")
    parser.add_argument("--output", type=Path, required=True, help="folder to save the model in")
    parser.set_defaults(func=run)


def load_data(args):
    from ..corpora import load_corpora

    ds = load_corpora(args.data, names=args.corpora, label_set=args.label_set)
    return ds, ds.features["emotion"].names


def run(args) -> int:
    from ..evaluation import format_summary, summarize, write_report
    from ..splits import protocol_folds
    from ..training import TrainingConfig, fit_predict_baseline, train_on_all

    ds, names = load_data(args)
    config = TrainingConfig(epochs=args.epochs, augment_copies=args.augment_copies, seed=args.seed,
                            threads=args.threads, speaker_norm=args.speaker_norm and args.architecture != "seed",
                            front_end_from=front_end_from(args), model_overrides=model_overrides(args),
                            augmenter=augmenter(args), feature_overrides=feature_overrides(args))
    args.output.mkdir(parents=True, exist_ok=True)
    if args.split == "all":
        out = train_on_all(ds, names, args.architecture, config, output_dir=args.output / "trainer")
        model, fe = out["model"], out["feature_extractor"]
    else:
        (fold, split), = protocol_folds(ds, args.split, seed=args.seed)[:1]
        out = fit_predict_baseline(split["train"], split["test"], names, architecture=args.architecture,
                                   config=config, output_dir=args.output / "trainer")
        model, fe = out["model"], out["feature_extractor"]
        out["fold"] = fold
        report = summarize([out], names, protocol=args.split, title=f"ser train --split {args.split}")
        write_report(report, [out], args.output / "evaluation")
        print(format_summary(report))
    import shutil

    shutil.rmtree(args.output / "trainer", ignore_errors=True)  # Trainer's scratch folder; nothing is saved there
    from ..models import save_model

    save_model(model, args.output)
    fe.save_pretrained(args.output)
    (args.output / "training_config.json").write_text(json.dumps(
        {**config.to_dict(), "architecture": args.architecture, "corpora": sorted(set(ds["corpus"])),
         "label_set": args.label_set, "split": args.split, "clips": len(ds)}, indent=1) + "\n")
    print(f"saved {args.output}")
    return 0
