"""``POST /v1/predict``: one HTTP request with the audio file in the body, JSON back.

Gradio's own API takes an upload, a queue join and an event stream per call (``gradio_client``
does all three): right for the page, heavy for a call centre posting clips from a script. This
route takes the file's bytes as the request body and answers with ``{model: {emotion: p}}``, the
same JSON as ``/predict``::

    curl --data-binary @clip.wav http://127.0.0.1:7860/v1/predict

It keeps the limits of the queue: at most ``concurrency`` requests run at once, at most
``queue_size`` wait (more get 503 at once), bodies over ``max_bytes`` get 413, bad audio 400
with the problem, and with ``--auth`` it asks for the same user and password (HTTP Basic).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ser_hf.errors import AudioError, SerError


# An unread body is refused: the connection is closed rather than kept with the rest still coming.
CLOSE = {"Connection": "close"}


class _Slots:
    """``concurrency`` running, ``queue_size`` waiting, the rest refused: a bounded queue."""

    def __init__(self, concurrency: int, queue_size: int):
        self.running = asyncio.Semaphore(concurrency)
        self.limit = concurrency + queue_size
        self.admitted = 0


def _authorised(request: Request, auth: tuple[str, str] | None) -> bool:
    if auth is None:
        return True
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, auth[0]) & secrets.compare_digest(password, auth[1])


def predict_route(predict: Callable[[bytes], dict], *, concurrency: int, queue_size: int, max_bytes: int,
                  auth: tuple[str, str] | None = None, path: str = "/v1/predict") -> APIRoute:
    """The route, for ``demo.launch(app_kwargs={"routes": [...]})``; ``predict`` maps bytes to the JSON."""
    slots: _Slots | None = None

    async def endpoint(request: Request):
        nonlocal slots
        if slots is None:  # made inside the server's event loop
            slots = _Slots(concurrency, queue_size)
        if not _authorised(request, auth):
            return JSONResponse({"error": "login required (HTTP Basic, the --auth user and password)"}, 401,
                                headers={"WWW-Authenticate": 'Basic realm="ser-hf"'})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return JSONResponse({"error": f"file too large: {int(declared)} bytes, over the {max_bytes} byte limit"}, 413,
                                headers=CLOSE)
        if slots.admitted >= slots.limit:
            return JSONResponse({"error": "queue is full, try again shortly"}, 503, headers={"Retry-After": "1"})
        slots.admitted += 1
        try:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    return JSONResponse({"error": f"file too large: over the {max_bytes} byte limit"}, 413, headers=CLOSE)
            if not body:
                return JSONResponse({"error": "empty request: send the audio file as the body"}, 400)
            async with slots.running:
                return await run_in_threadpool(predict, bytes(body))
        except SerError as exc:
            problem = exc.problem if isinstance(exc, AudioError) else str(exc)
            return JSONResponse({"error": f"cannot use this audio: {problem}"}, 400)
        finally:
            slots.admitted -= 1

    return APIRoute(path, endpoint, methods=["POST"], name="ser_predict", include_in_schema=True,
                    summary="Emotion probabilities of every loaded model for the audio file in the body")
