#!/usr/bin/env bash
# Installs what the browser tests need and pip cannot give: Debian's Chromium and React from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

REACT_DIR=tests/web/.react
if [ ! -f "$REACT_DIR/node_modules/react/package.json" ] || \
   [ ! -f "$REACT_DIR/node_modules/react-dom/package.json" ]; then
  echo "installing React from npm for the React integration test"
  mkdir -p "$REACT_DIR"
  npm install --no-audit --no-fund --silent --no-save --no-package-lock --prefix "$REACT_DIR" \
    react@18 react-dom@18 >/dev/null
fi
