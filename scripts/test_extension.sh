#!/usr/bin/env bash
# The VS Code extension's checks: lint, unit tests (node --test), then the end-to-end test in a
# real VS Code (code-server + headless Chromium, tools installed into .tools/ on first use).
#   --unit-only   lint and unit tests only
#   --e2e-only    the end-to-end test only
# The E2E needs the Python venv with the embedded model (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
case "${1:-}" in
  --unit-only) mode=unit ;;
  --e2e-only) mode=e2e ;;
  "") ;;
  *) echo "usage: $0 [--unit-only|--e2e-only]" >&2; exit 2 ;;
esac

bash scripts/build_extension.sh

if [[ $mode != e2e ]]; then
  echo "== eslint (extension)" >&2
  npm run --silent lint
  echo "== unit tests (extension)" >&2
  npm run --silent test:unit
fi

if [[ $mode != unit ]]; then
  bash scripts/install_code_server.sh
  # shellcheck source=/dev/null
  source .tools/env.sh
  echo "== end-to-end test in code-server (extension)" >&2
  timeout 900 node extension/test/e2e/run.mjs
fi
