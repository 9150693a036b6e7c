#!/usr/bin/env bash
# Builds the VS Code extension and packages lingua.vsix; safe to re-run. `npm ci` runs only
# when node_modules is missing or older than package-lock.json; the build and the package are
# skipped when lingua.vsix is newer than every input. --force rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
[[ "${1:-}" == "--force" ]] && force=1

step() { printf '\n== %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 20 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "installing the extension's npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

stale=$force
if [[ ! -f lingua.vsix ]]; then
  stale=1
elif [[ -n $(find extension/src server lingua_core package.json package-lock.json pyproject.toml README.md LICENSE \
  .vscodeignore tsconfig.json -newer lingua.vsix -not -path '*/__pycache__/*' -print -quit 2>/dev/null) ]]; then
  stale=1
fi
if [[ $stale == 1 ]]; then
  step "building and packaging the extension (lingua.vsix)"
  npm run --silent package
  ls -l lingua.vsix >&2
fi
