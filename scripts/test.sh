#!/usr/bin/env bash
# The whole test suite: installs missing test tools, then unit + integration tests
# (including the built-in library's Rego tests through `policyctl test`), then the test suite
# of the patched regorus in third_party/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --locked "$@"
# The patched regorus's own suite (its YAML cases and integration tests), so a patch that
# breaks regorus is caught (third_party/regorus/PATCHES.md).
# It builds into this crate's target/ with the same debug-info settings, so dependencies built
# identically are shared and a fresh clone's disk use stays small.
CARGO_TARGET_DIR="$PWD/target" cargo test --locked --manifest-path third_party/regorus/Cargo.toml \
    --config 'profile.dev.debug="line-tables-only"' --config 'profile.dev.package."*".debug=false' \
    --lib --test mod
# The patched cel's own suite (third_party/cel/PATCHES.md). Its parser recurses deeply in an
# unoptimised build: one of its own tests needs more than the default 2 MiB thread stack.
RUST_MIN_STACK=268435456 CARGO_TARGET_DIR="$PWD/target" cargo test --locked \
    --manifest-path third_party/cel/Cargo.toml \
    --config 'profile.dev.debug="line-tables-only"' --config 'profile.dev.package."*".debug=false'
