#!/usr/bin/env bash
# Every check: set-up if needed, lint, types, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo
V=.venv/bin
echo "== ruff" >&2
$V/ruff check lingua_core server tests bench scripts
echo "== mypy" >&2
$V/mypy lingua_core server
echo "== pytest" >&2
$V/pytest -q "$@"
echo "== extension: lint, unit tests, end-to-end in code-server" >&2
bash scripts/test_extension.sh
