"""The Gradio demo: ``python -m app``. Thin on purpose: every prediction is made by :mod:`ser_hf`."""
