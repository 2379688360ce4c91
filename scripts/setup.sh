#!/usr/bin/env bash
# Sets up .venv/ on a fresh machine: FFmpeg's shared libraries (for torchcodec), torch 2.13.0 from
# the CPU wheel on disk first (so nothing pulls a multi-GB CUDA build), then the project pinned
# by constraints.txt. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ldconfig -p | grep -q 'libavcodec\.so' && command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)  # libs for torchcodec, CLI for tests
for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=".venv/bin/python -m pip"
if ! .venv/bin/python -c "import ser_hf, gradio, pytest, playwright, onnxruntime, noisereduce" 2>/dev/null; then
  $PIP install -q --upgrade pip
  $PIP install -q torch==2.13.0
  $PIP install -q -c constraints.txt -e ".[dev]"
fi
