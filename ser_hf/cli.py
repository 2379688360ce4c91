"""``ser``: the command line. Each subcommand lives in ``ser_hf/commands/<name>.py``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = ("data", "predict", "train", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ser", description="Speech emotion recognition, Hugging Face native.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"ser_hf.commands.{name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from .errors import SerError

    try:
        return args.func(args) or 0
    except SerError as exc:
        print(f"ser: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
