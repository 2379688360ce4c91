"""ONNX Runtime for the MFCC-CNN: the same function as its PyTorch forward, about 1.4x faster on a CPU thread.

Why: on one thread, a 3 s clip of speech through the shipped model took 12.15 ms with PyTorch and 8.58 ms
with ONNX Runtime, features included (``python -m bench.baseline latency``): at a few hundred frames its
matrix products and the many small steps between them cost less there. The model is exported in memory
when it is loaded (about a second, with ``torch.onnx``), never stored: its safetensors stay the one copy of
the weights, and ``from_pretrained``/``pipeline`` keep running it in PyTorch.

:class:`ser_hf.EmotionRecognizer` uses it by default where it applies (:func:`supports`: a per-clip
``cnn1d`` MFCC-CNN on the CPU, onnxruntime installed); ``runtime="torch"`` keeps PyTorch.
"""

from __future__ import annotations

import io
import warnings

import numpy as np


def supports(model) -> bool:
    """Whether :class:`OnnxRuntimeModel` runs ``model``: a ``cnn1d`` MFCC-CNN that takes the clip's frames alone
    (not one that takes speaker statistics), on the CPU."""
    config = model.config
    return (getattr(config, "model_type", None) == "mfcc_cnn" and config.architecture == "cnn1d"
            and not model.takes_speaker_statistics and model.device.type == "cpu")


def export_logits(model, example, f, input_name: str = "input_features", dynamic_axes: dict | None = None) -> None:
    """Export ``model``'s logits for ``example`` (its one input, ``input_name``) to ``f`` (a path or a file object)
    as ONNX, with torch.onnx's TorchScript-based exporter.

    Why that exporter, which torch.onnx calls legacy: it traces the MFCC-CNN exactly at any clip length, where the
    torch.export-based one fixes the length at the example's (the model's ceil-mode pooling and mask arithmetic).
    The tracer's warnings (one per Python branch on a tensor) are silenced: the graph keeps the example's branches.
    """
    import torch

    class Logits(torch.nn.Module):  # ONNX wants a tensor out, not a ModelOutput
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, features):
            return self.inner(**{input_name: features}).logits

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits(model).eval(), (example,), f, input_names=[input_name], output_names=["logits"],
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)


class OnnxRuntimeModel:
    """``model`` (a :func:`supported <supports>` MFCC-CNN) exported to ONNX and run by ONNX Runtime.

    :meth:`logits` takes what the model's feature extractor gives for clips of one length (``input_features``
    ``[batch, bands, frames]``; an ``attention_mask``, if given, must be all ones) and returns the logits
    PyTorch gives, to float rounding. The graph is traced on an unpadded clip: padded batches, whose frames
    the PyTorch model masks, are refused rather than answered wrongly.

    Args:
        model: the loaded model (its weights are copied into the graph; later changes to it are not seen).
        threads: ONNX Runtime's intra-op threads (default: ``torch.get_num_threads()``, as PyTorch would use).
    """

    def __init__(self, model, threads: int | None = None):
        import onnxruntime as ort
        import torch

        model.eval()
        example = torch.zeros(1, model.config.num_features, 200)
        example[..., ::7] = -20.0  # not constant: nothing in the trace may depend on the example's values
        buffer = io.BytesIO()
        # The graph takes the branches of an unpadded clip (the all-frames-real mask among them), which is all
        # logits() accepts.
        export_logits(model, example, buffer, dynamic_axes={"input_features": {0: "batch", 2: "frames"}})
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its notes on unused initializers are not the user's concern
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def logits(self, input_features: np.ndarray, attention_mask: np.ndarray | None = None) -> np.ndarray:
        """``[batch, labels]`` logits of clips of one length (see the class)."""
        if attention_mask is not None and not np.all(attention_mask):
            raise ValueError("OnnxRuntimeModel takes clips of one length (an attention_mask of ones); "
                             "run padded batches through the PyTorch model")
        features = np.ascontiguousarray(input_features, dtype=np.float32)
        return self.session.run(None, {"input_features": features})[0]
