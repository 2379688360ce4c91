"""The demo's figures: waveform and spectrogram of a clip, and the emotion timeline of a recording."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

# Figures are built without pyplot: pyplot keeps every figure it makes in a global registry until
# it is closed, which on a server that draws one per request is a memory leak.

# One colour per emotion of the taxonomy, the same in every figure.
COLOURS = {"neutral": "#9e9e9e", "calm": "#80cbc4", "happy": "#fbc02d", "sad": "#1e88e5", "angry": "#e53935",
           "fearful": "#8e24aa", "disgust": "#43a047", "surprised": "#fb8c00"}


def waveform_and_spectrogram(samples: np.ndarray, sr: int):
    """Two stacked panels: the waveform, and the log-mel spectrogram (80 bands, dB)."""
    import librosa
    import librosa.display

    fig = Figure(figsize=(8, 4.2), constrained_layout=True)
    top, bottom = fig.subplots(2, 1, sharex=True)
    librosa.display.waveshow(samples, sr=sr, ax=top, color="#1e88e5")
    top.set(title="Waveform", ylabel="amplitude", xlabel=None)
    mel = librosa.feature.melspectrogram(y=samples, sr=sr, n_mels=80, n_fft=400, hop_length=160)
    image = librosa.display.specshow(librosa.power_to_db(mel, ref=np.max), sr=sr, hop_length=160,
                                     x_axis="time", y_axis="mel", ax=bottom, cmap="magma")
    bottom.set(title="Log-mel spectrogram")
    fig.colorbar(image, ax=bottom, format="%+.0f dB")
    return fig


def timeline_figure(rows: list[dict], labels: list[str]):
    """The emotion timeline: one coloured bar per speech segment, its height the model's confidence."""
    fig = Figure(figsize=(10, 3), constrained_layout=True)
    ax = fig.subplots()
    for row in rows:
        ax.barh(labels.index(row["emotion"]), row["end"] - row["start"], left=row["start"], height=0.25 + 0.6 * row["score"],
                color=COLOURS.get(row["emotion"], "#607d8b"))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set(xlabel="time (s)", title="Emotion per speech segment (bar height = confidence)")
    ax.grid(axis="x", alpha=0.3)
    return fig
