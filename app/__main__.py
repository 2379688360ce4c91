"""``python -m app``: start the demo on the shipped models (offline; no Hub access needed).

    python -m app                                   # models/ser-mfcc-cnn and, once shipped, models/ser-whisper-tiny
    python -m app --transformer superb/wav2vec2-base-superb-er --port 8080 --auth me:secret
"""

from __future__ import annotations

import argparse
import atexit
import faulthandler
import ipaddress
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "models" / "ser-mfcc-cnn"
TRANSFORMER = REPO / "models" / "ser-whisper-tiny"

HOW_TO_BASELINE = (
    "Train it with the baseline recipe (see the README, *Models*), or pass `--baseline PATH` to a folder "
    "written by `save_pretrained`."
)
HOW_TO_TRANSFORMER = (
    "Fine-tune one with `python finetune/train.py` (see the README, *Fine-tuning*), then start the demo with "
    "`--transformer runs/.../best`; or pass any audio-classification model on the Hugging Face Hub, e.g. "
    "`--transformer superb/wav2vec2-base-superb-er` (needs internet the first time)."
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="The speech emotion recognition demo.")
    parser.add_argument("--baseline", default=str(BASELINE), metavar="PATH",
                        help=f"baseline model folder (default: {BASELINE.relative_to(REPO)})")
    parser.add_argument("--transformer", metavar="PATH_OR_ID",
                        help=f"transformer model folder or Hub id (default: {TRANSFORMER.relative_to(REPO)} "
                             "when it exists)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                                                            "0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (default 7860)")
    parser.add_argument("--share", action="store_true",
                        help="also create a temporary public link through Gradio's share servers")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login")
    parser.add_argument("--max-file-size", default="50mb", help="largest upload accepted (default 50mb)")
    parser.add_argument("--max-duration", type=float, default=60.0,
                        help="longest clip the Clip tab and /predict accept, in seconds (default 60)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1,
                        help="requests served at once (default: the number of CPU cores)")
    parser.add_argument("--queue-size", type=int, default=64,
                        help="requests that may wait for a free slot; beyond that a request is refused at "
                             "once with 'queue is full' instead of piling up (default 64)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per request (default 1: requests run side by side instead)")
    parser.add_argument("--malloc-arenas", type=int, default=2, metavar="N",
                        help="glibc malloc arenas, with freed memory returned to the OS every 10 s, so that "
                             "memory stays bounded under load (default 2; 0: glibc's defaults; app/memory.py)")
    parser.add_argument("--no-examples", action="store_true", help="do not offer corpus clips as examples")
    args = parser.parse_args(argv)
    if args.auth and ":" not in args.auth:
        parser.error("--auth takes USER:PASSWORD")
    return args


def load_models(args) -> tuple[dict, list[str]]:
    """``({name: recognizer}, notices)``: every model that loads, and a page notice for each that does not."""
    from ser_hf.errors import SerError
    from ser_hf.inference import EmotionRecognizer

    recognizers, notices = {}, []
    transformer = args.transformer or (str(TRANSFORMER) if TRANSFORMER.is_dir() else None)
    for role, source, how in (("baseline", args.baseline, HOW_TO_BASELINE),
                              ("transformer", transformer, HOW_TO_TRANSFORMER)):
        if source is None:
            notices.append(f"**No transformer model loaded**: `{TRANSFORMER.relative_to(REPO)}` is not there. "
                           f"Serving the baseline only. {how}")
            continue
        local = role == "baseline" or Path(source).exists() or source.startswith((".", "/", "~"))
        if local and not Path(source).expanduser().is_dir():
            notices.append(f"**No {role} model loaded**: `{source}` does not exist. {how}")
            continue
        try:
            recognizer = EmotionRecognizer.from_pretrained(source, max_duration=args.max_duration)
        except SerError as exc:
            notices.append(f"**The {role} model could not be loaded**: {exc}. {how}")
            continue
        if recognizer.adaptive:  # it needs ~1 min of the speaker first; the demo classifies lone clips
            notices.append(f"**Not serving `{source}`**: it adapts to the speaker and needs about a minute of their "
                           "speech first, which a lone clip does not give. Use it with `ser predict --long` or "
                           f"`EmotionRecognizer.timeline()`. {how}")
            continue
        recognizers[recognizer.name] = recognizer
    for notice in notices:
        logging.getLogger("app").warning(notice.replace("**", ""))
    return recognizers, notices


def exposure_warnings(args) -> list[str]:
    """What this launch exposes to others without a login: said loudly, never silently."""
    warnings = []
    if args.share and not args.auth:
        warnings.append("--share without --auth: ANYONE with the public link can use this demo and upload "
                        "files to this machine. Add --auth USER:PASSWORD.")
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not args.auth:
        warnings.append(f"--host {args.host} without --auth: every machine that can reach this one can use "
                        "the demo. Add --auth USER:PASSWORD, or keep the default 127.0.0.1.")
    return warnings


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # `kill -USR1 PID` prints every thread's stack to stderr: how to see where a stuck server waits.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Ctrl+C (SIGINT) stops the demo however it was started: a shell starts background jobs (`&`,
    # CI scripts) with SIGINT ignored, and Python then keeps it ignored, so Gradio's Ctrl+C handler
    # never ran and the server could only be killed (a SIGUSR1 dump showed it still serving).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.malloc_arenas > 0:  # before any thread that serves requests exists
        from .memory import limit_native_heap

        limit_native_heap(args.malloc_arenas)
    for warning in exposure_warnings(args):
        logging.getLogger("app").warning(warning)
        print(f"\n{'!' * 78}\n!! WARNING: {warning}\n{'!' * 78}\n", file=sys.stderr, flush=True)
    from transformers.utils import logging as hf_logging

    from . import examples, ui

    hf_logging.disable_progress_bar()
    import torch

    torch.set_num_threads(args.threads)
    # numpy's BLAS (librosa's features) too: requests already run side by side, and each BLAS call
    # spinning up its own threads on the same cores only makes them wait for each other.
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    recognizers, notices = load_models(args)
    clips, recordings = ([], []) if args.no_examples else examples.prepare()
    url = f"http://{args.host}:{args.port}/"
    demo = ui.build(recognizers, notices, clips, recordings, url=url)
    # api_open=False: every Gradio API call goes through this bounded queue (Gradio's direct REST
    # route would skip it); /v1/predict below is the one-request path, with the same limits.
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size, api_open=False)
    folders = sorted({str(Path(p).parent) for p in clips + recordings})
    for folder in folders:  # the examples' temporary copies go when the app does
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # Files served: the examples' folder and Gradio's own upload folder, nothing else; the
    # repository (models, configs) is blocked outright (tests/test_exposure.py).
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    from gradio.route_utils import delete_files_created_by_app
    from gradio.utils import _parse_file_size

    from .rest import predict_route

    rest = predict_route(lambda body: ui.predict_all(recognizers, body), concurrency=args.concurrency,
                         queue_size=args.queue_size, max_bytes=_parse_file_size(args.max_file_size), auth=auth)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                    max_file_size=args.max_file_size, show_error=True, allowed_paths=folders, blocked_paths=[str(REPO)],
                    footer_links=["api", "gradio"], app_kwargs={"routes": [rest]})
        # launch() returns when Ctrl+C has closed the server; with share=False it blocks by itself.
    except KeyboardInterrupt:
        # Ctrl+C before launch() reached its own handler: with --share it still dials the share
        # server (up to 30 s offline) while this server already answers requests.
        print("Keyboard interruption while starting... closing server.", file=sys.stderr)
    finally:
        # Uploads are deleted by the server thread's shutdown (delete_cache), which Gradio waits
        # for only 5 s, or not at all when interrupted mid-launch; Gradio's own deletion, run here
        # as well, makes sure they go with the server.
        demo.close(verbose=False)
        delete_files_created_by_app(demo, age=None)


if __name__ == "__main__":
    sys.exit(main())
