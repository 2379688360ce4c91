"""``python -m bench [NAME ...]``: run benchmarks (all when no name is given), then refresh the README table."""

import importlib
import pkgutil
import sys
from pathlib import Path

from . import report


def main(argv=None) -> None:
    names = argv if argv is not None else sys.argv[1:]
    if not names:
        names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                 if m.name not in ("report", "common", "__main__", "gpu")]  # gpu: on a GPU machine (bench/gpu)
    for name in names:
        print(f"== bench {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    report.main()


if __name__ == "__main__":
    main()
