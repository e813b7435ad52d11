#!/usr/bin/env bash
# The whole test suite: installs missing test tools, then unit + integration tests
# (including the built-in library's Rego tests through `policyctl test`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --locked "$@"
