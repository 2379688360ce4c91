"""``ser evaluate MODEL --data ROOT --protocol kfold``: honest, speaker-independent figures for a model recipe."""

from __future__ import annotations

from pathlib import Path

from .train import (DEFAULTS, add_data_arguments, augmenter, feature_overrides, front_end_from, load_data,
                    model_overrides)

PROTOCOLS = ("kfold", "loso", "cross_corpus", "tess_cross_speaker", "random", "fixed", "as_is")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a model under a protocol (k-fold, leave-one-speaker-out, ...)",
        description="Train MODEL's recipe afresh on each fold of the protocol and test it on the fold's "
                    "unseen speakers; report accuracy, unweighted accuracy and macro-F1 (mean ± std over "
                    "folds, per corpus, per class) with a confusion matrix PNG, training curves PNG and a "
                    "JSON file. MODEL is 'mfcc-cnn', 'cnn2d' or 'seed' (the baseline architectures) or a saved "
                    "baseline folder (its recorded recipe is retrained: models/ser-mfcc-cnn measures the shipped "
                    "recipe). --protocol as_is scores a saved "
                    "model of any kind on all of the data without retraining (not speaker-independent unless the "
                    "model never heard these speakers: the shipped models heard every speaker of the shared corpora).")
    parser.add_argument("model", help="mfcc-cnn, cnn2d, seed, or a saved model folder")
    add_data_arguments(parser)
    parser.add_argument("--protocol", default="kfold", choices=PROTOCOLS, help="evaluation protocol (default kfold)")
    parser.add_argument("--folds", type=int, default=5, help="folds of the kfold protocol (default 5)")
    parser.add_argument("--max-folds", type=int, help="run only the first N folds (a quick look)")
    parser.add_argument("--train-corpora", nargs="+", default=["ravdess", "savee"],
                        help="cross_corpus: corpora to train on (default ravdess savee)")
    parser.add_argument("--test-corpus", default="tess", help="cross_corpus: corpus to test on (default tess)")
    parser.add_argument("--output", type=Path, default=Path("reports/evaluate"),
                        help="folder for report.json, confusion.png, curves.png (default reports/evaluate)")
    parser.set_defaults(func=run)


def _architecture(model: str) -> str | None:
    if model in ("mfcc-cnn", "mfcc_cnn", "cnn1d"):
        return "cnn1d"
    if model in ("seed", "cnn2d"):
        return model
    config_file = Path(model) / "config.json"
    if config_file.is_file():
        import json

        config = json.loads(config_file.read_text())
        if config.get("model_type") == "mfcc_cnn":
            return config.get("architecture", "cnn1d")
    return None


def saved_recipe(model: str) -> tuple[Path, dict] | None:
    """The training recipe a saved baseline folder records: ``training_info.json``'s (scripts/train_baseline.py) or
    ``training_config.json`` (``ser train``); ``None`` for a recipe name or a folder without one."""
    import json

    for name in ("training_info.json", "training_config.json"):
        path = Path(model) / name
        if path.is_file():
            saved = json.loads(path.read_text())
            return path, saved.get("recipe", saved)
    return None


def recipe_config(args):
    """The :class:`TrainingConfig` each fold trains with: a saved model's recorded recipe (so that ``ser evaluate
    models/ser-mfcc-cnn`` measures the shipped recipe, Whisper's front end included), else the command line's.

    Over a saved recipe, the command line still sets this machine's threads and whatever differs from its
    defaults (``--epochs 1`` for a quick look, ``--seed``, ``--speaker-norm``, the front end's options, the
    augmented copies' effects, the preprocessing); a
    recorded front end that is a local folder missing here is fetched by name (``$SER_WHISPER`` or
    ``openai/whisper-tiny.en``: the shipped models' checkpoint).
    """
    import dataclasses
    import os

    from ..training import TrainingConfig, default_whisper

    given = TrainingConfig(epochs=args.epochs, augment_copies=args.augment_copies, seed=args.seed,
                           threads=args.threads, speaker_norm=args.speaker_norm, front_end_from=front_end_from(args),
                           model_overrides=model_overrides(args), augmenter=augmenter(args),
                           feature_overrides=feature_overrides(args))
    saved = saved_recipe(args.model)
    if saved is None:
        return given
    path, recorded = saved
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    recipe = {k: v for k, v in recorded.items() if k in fields}
    for name in ("epochs", "augment_copies", "seed", "speaker_norm"):
        if getattr(args, name) != DEFAULTS[name]:
            recipe[name] = getattr(given, name)
    if args.front_end_from or args.shipped_design or args.front_end_layers:
        recipe.update(front_end_from=given.front_end_from, model_overrides=given.model_overrides)
    for merged in ("augmenter", "feature_overrides"):
        if getattr(given, merged):
            recipe[merged] = {**recipe.get(merged, {}), **getattr(given, merged)}
    recorded_front_end = recipe.get("front_end_from")
    if recorded_front_end and os.path.isabs(recorded_front_end) and not Path(recorded_front_end).exists():
        recipe["front_end_from"] = default_whisper()
    recipe["threads"] = args.threads
    print(f"recipe: {path}")
    return TrainingConfig(**recipe)


def run(args) -> int:
    from ..errors import SerError
    from ..evaluation import (baseline_recipe, evaluate_pretrained, format_summary, run_protocol, summarize,
                              with_clip_ids, write_report)
    ds, names = load_data(args)
    if args.protocol == "as_is":
        out = evaluate_pretrained(args.model, ds)
        out["fold"] = "all"
        report = summarize([out], names, protocol="as_is", title=f"{args.model} as is")
        report["skipped"] = out["skipped"]
        write_report(report, [out], args.output)
        print(format_summary(report))
        print(f"wrote {args.output}")
        return 0
    architecture = _architecture(args.model)
    if architecture is None:
        raise SerError(f"{args.model}: not a baseline recipe; retraining per fold is implemented for the "
                       "MFCC-CNN baseline (mfcc-cnn, seed, or its saved folder). Use --protocol as_is to "
                       "score a trained model of another kind.")
    if args.shipped_design and architecture != "cnn1d":
        raise SerError(f"--shipped-design is the cnn1d network; {args.model} is {architecture}")
    options = {}
    if args.protocol == "kfold":
        options = {"n_folds": args.folds, "seed": args.seed}
    elif args.protocol == "cross_corpus":
        options = {"train": tuple(args.train_corpora), "test": args.test_corpus}
    elif args.protocol in ("random", "fixed"):
        options = {"seed": args.seed}
    ds = with_clip_ids(ds)
    config = recipe_config(args)
    recipe = baseline_recipe(names, architecture, config=config, ds=ds, work_dir=args.output / "runs")
    report = run_protocol(ds, args.protocol, recipe, names, out_dir=args.output, max_folds=args.max_folds,
                          title=f"{args.model} {args.protocol}", **options)
    print(format_summary(report))
    print(f"wrote {args.output}")
    return 0
