"""The demo's page: a Gradio Blocks layout whose every action calls :mod:`ser_hf`.

Each action is two events: a named API event that returns plain JSON (``/predict``,
``/timeline``; what ``gradio_client`` calls), then a private one that draws that JSON into labels,
plots and tables for the page. So API clients pay for no figure, and the page shows exactly
what the API returns.
"""

from __future__ import annotations

import os

import gradio as gr
import numpy as np

from ser_hf.audio import load_audio
from ser_hf.errors import AudioError, SerError
from ser_hf.inference import EmotionRecognizer

from . import plots

LIVE_WINDOW = 3.0   # seconds of microphone audio each live prediction looks at
LIVE_EVERY = 2.0    # seconds between live predictions

API_HELP = """\
```python
from gradio_client import Client, handle_file
client = Client("{url}")
client.predict(handle_file("clip.wav"), api_name="/predict")        # {{model: {{emotion: probability}}}}
client.predict(handle_file("meeting.flac"), "{model}", api_name="/timeline")  # [{{start, end, emotion, score, probabilities}}]
```

One request, any language: `curl --data-binary @clip.wav {url}v1/predict` (the same JSON as `/predict`).
"""


def _user_error(exc: Exception, path) -> gr.Error:
    """A page toast and an API error that name the user's file, not the server's temp path."""
    name = os.path.basename(str(path)) if path else "audio"
    problem = exc.problem if isinstance(exc, AudioError) else str(exc)
    return gr.Error(f"{name}: {problem}", title="Cannot use this audio")


def predict_all(recognizers: dict[str, EmotionRecognizer], source) -> dict:
    """``{model: {emotion: probability}}`` for a path or bytes, decoded once per sampling rate."""
    decoded = {}
    for recognizer in recognizers.values():
        rate = recognizer.sampling_rate
        if rate not in decoded:
            decoded[rate] = load_audio(source, rate)
    return {name: r.predict((r.sampling_rate, decoded[r.sampling_rate])) for name, r in recognizers.items()}


def build(recognizers: dict[str, EmotionRecognizer], notices: list[str] = (), examples: list[str] = (),
          long_examples: list[str] = (), url: str = "http://127.0.0.1:7860/") -> gr.Blocks:
    """The demo for the loaded ``recognizers`` (name -> recognizer), baseline first.

    ``notices`` are shown at the top (e.g. which model is missing and how to get it).
    """
    names = list(recognizers)

    def need_models():
        if not recognizers:
            raise gr.Error("No model is loaded, see the notice at the top of the page.", title="No model")

    def predict(path):
        """Probabilities of each emotion from every loaded model, for one audio file."""
        need_models()
        if not path:
            raise gr.Error("No audio: record or upload a clip first.", title="No audio")
        try:
            return predict_all(recognizers, path)
        except SerError as exc:
            raise _user_error(exc, path) from None

    def show_prediction(result, path):
        figure = plots.waveform_and_spectrogram(load_audio(path), 16000)
        return [result.get(name) for name in names] + [figure]

    def timeline(path, model):
        """Emotion timeline of a long recording: speech segments with their emotions."""
        need_models()
        if not path:
            raise gr.Error("No audio: upload a recording first.", title="No audio")
        if model not in recognizers:
            raise gr.Error(f"unknown model {model!r}; loaded: {', '.join(names)}", title="No such model")
        try:
            return recognizers[model].timeline(path)
        except SerError as exc:
            raise _user_error(exc, path) from None

    def show_timeline(rows, model):
        labels = recognizers[model].labels
        table = [[r["start"], r["end"], r["emotion"], round(r["score"], 3)] for r in rows]
        return plots.timeline_figure(rows, labels), table

    def live(chunk, state):
        """Accumulate microphone chunks; every LIVE_EVERY seconds, predict on the last LIVE_WINDOW."""
        if chunk is None or not recognizers:
            return gr.skip(), state
        state = state or {"audio": np.zeros(0, np.float32), "since": 0.0}
        try:
            new = load_audio(chunk)
        except AudioError:
            return gr.skip(), state
        state["audio"] = np.concatenate([state["audio"], new])[-int(LIVE_WINDOW * 16000):]
        state["since"] += len(new) / 16000
        if state["since"] < LIVE_EVERY or len(state["audio"]) < 16000:
            return gr.skip(), state
        state["since"] = 0.0
        try:
            return recognizers[names[0]].predict((16000, state["audio"])), state
        except AudioError as exc:
            return f"({exc.problem.split(':')[0]})", state  # e.g. "(no speech found)"

    # Uploads are copied into Gradio's temp folder: delete those older than an hour, every 10
    # minutes, and all of them when the server stops.
    with gr.Blocks(title="Speech emotion recognition", delete_cache=(600, 3600)) as demo:
        gr.Markdown("# Speech emotion recognition\nRecord or upload speech; each loaded model gives the "
                    "probability of each emotion. Models: " + (", ".join(f"`{n}`" for n in names) or "none"))
        for notice in notices:
            gr.Markdown(notice, elem_classes=["notice"])

        with gr.Tab("Clip"):
            with gr.Row():
                with gr.Column(scale=1):
                    audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech (up to 60 s)",
                                     elem_id="clip-audio")
                    run = gr.Button("Recognise emotion", variant="primary", elem_id="recognise")
                    if examples:
                        gr.Examples(examples=[[e] for e in examples], inputs=[audio], label="Examples (corpus clips)")
                with gr.Column(scale=1):
                    with gr.Row():
                        outputs = [gr.Label(num_top_classes=4, label=name, elem_id=f"probs-{i}")
                                   for i, name in enumerate(names)]
                    figure = gr.Plot(label="Waveform and spectrogram")
            with gr.Accordion("API response (JSON)", open=False):
                result = gr.JSON(label="/predict")
            run.click(predict, inputs=[audio], outputs=[result], api_name="predict").success(
                show_prediction, inputs=[result, audio], outputs=[*outputs, figure], api_visibility="private")

        with gr.Tab("Long recording"):
            gr.Markdown("Upload a long recording (a meeting, a call, an hour of audio): it is split into speech "
                        "segments and each segment gets an emotion.")
            with gr.Row():
                long_audio = gr.Audio(sources=["upload"], type="filepath", label="Recording", elem_id="long-audio")
                with gr.Column():
                    model = gr.Radio(names, value=names[0] if names else None, label="Model")
                    run_long = gr.Button("Build the timeline", variant="primary")
            if long_examples:
                gr.Examples(examples=[[e] for e in long_examples], inputs=[long_audio], label="Example recording")
            long_plot = gr.Plot(label="Emotion timeline")
            long_table = gr.Dataframe(headers=["start (s)", "end (s)", "emotion", "confidence"], label="Segments",
                                      interactive=False)
            with gr.Accordion("API response (JSON)", open=False):
                long_result = gr.JSON(label="/timeline")
            run_long.click(timeline, inputs=[long_audio, model], outputs=[long_result], api_name="timeline").success(
                show_timeline, inputs=[long_result, model], outputs=[long_plot, long_table], api_visibility="private")

        with gr.Tab("Live microphone"):
            gr.Markdown(f"Speak: every {LIVE_EVERY:g} s the first model (`{names[0] if names else 'none'}`) "
                        f"judges the last {LIVE_WINDOW:g} s.")
            mic = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone")
            live_label = gr.Label(num_top_classes=3, label="Now")
            state = gr.State(time_to_live=60)  # the last seconds of a microphone, dropped after an idle minute
            mic.stream(live, inputs=[mic, state], outputs=[live_label, state], stream_every=0.5, time_limit=600,
                       api_visibility="private")

        with gr.Tab("API"):
            gr.Markdown("Named endpoints, callable from `gradio_client`:\n" +
                        API_HELP.format(url=url, model=names[0] if names else "MODEL"))
    return demo
