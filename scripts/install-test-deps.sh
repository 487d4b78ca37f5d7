#!/usr/bin/env bash
# Installs what the tests need and pip cannot give: PostgreSQL's server binaries (when absent),
# Debian's Chromium, and the JavaScript package's dev dependencies from npm.
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

# The npm package's dev tools (TypeScript) and the frameworks its bindings are tested with
# (React, Vue, Svelte), at the exact versions js/package.json pins, into js/node_modules.
JS_DIR=js
if [ ! -f "$JS_DIR/node_modules/.installed" ] || [ "$JS_DIR/package.json" -nt "$JS_DIR/node_modules/.installed" ]; then
  echo "installing the JavaScript package's dev dependencies from npm (js/node_modules)"
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: installing Debian's npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  (cd "$JS_DIR" && npm install --no-audit --no-fund --silent >/dev/null)
  touch "$JS_DIR/node_modules/.installed"
fi

# axe-core, the accessibility rules the dashboard's browser tests run on every page
# (tests/server/dashboard/test_a11y.py injects its axe.min.js), pinned, into a git-ignored folder.
AXE_VERSION=4.11.0
AXE_DIR=tests/server/dashboard/.axe
if [ "$(cat "$AXE_DIR/node_modules/axe-core/.version" 2>/dev/null)" != "$AXE_VERSION" ]; then
  echo "installing axe-core $AXE_VERSION from npm for the accessibility tests"
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "$AXE_DIR"
  npm install --no-audit --no-fund --silent --no-save --no-package-lock --prefix "$AXE_DIR" \
    "axe-core@$AXE_VERSION" >/dev/null
  echo "$AXE_VERSION" > "$AXE_DIR/node_modules/axe-core/.version"
fi

# Python >= 3.12 for the official timeback-sdk test (tests/server/api/test_official_sdk.py looks on
# PATH, in pyenv, then in uv's folder): when none is there, uv installs one (python-build-standalone).
has_python_312() {
  for python in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python; do
    if command -v "$python" >/dev/null 2>&1 && \
       "$python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      return 0
    fi
  done
  return 1
}
if ! has_python_312; then
  echo "installing Python 3.12 with uv for the official timeback-sdk test"
  .venv/bin/pip install --quiet uv
  .venv/bin/uv python install 3.12
fi
