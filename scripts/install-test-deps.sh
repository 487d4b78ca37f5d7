#!/usr/bin/env bash
# Installs what the tests need and pip cannot give: PostgreSQL's server binaries (when absent),
# Debian's Chromium, and React from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL's server binaries for the PostgreSQL half of the suite"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

REACT_DIR=tests/web/.react
if [ ! -f "$REACT_DIR/node_modules/react/package.json" ] || \
   [ ! -f "$REACT_DIR/node_modules/react-dom/package.json" ]; then
  echo "installing React from npm for the React integration test"
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: installing Debian's npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "$REACT_DIR"
  npm install --no-audit --no-fund --silent --no-save --no-package-lock --prefix "$REACT_DIR" \
    react@18 react-dom@18 >/dev/null
fi
