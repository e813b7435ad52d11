#!/usr/bin/env bash
# Builds a release archive of policyctl: the binary (cargo profile `dist` by default), README,
# LICENSE notes, shell completions and man pages, a CycloneDX SBOM of policyctl itself
# (cargo-cyclonedx, installed when missing), and a SHA-256 checksum file per archive.
#   scripts/release.sh [--profile dist|release|dev] [--out DIR]
# CI runs it with `--profile dev` (the packaging steps, without the long optimized build); a
# release runs it with the default `dist` profile.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dist
out=target/release-artifacts
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: scripts/release.sh [--profile dist|release|dev] [--out DIR]" >&2; exit 2 ;;
  esac
done
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
target="$(rustc -vV | sed -n 's/^host: //p')"
name="policyctl-${version}-${target}"

cargo build --locked --profile "$profile" --bin policyctl
case "$profile" in dev) bin_dir=target/debug ;; *) bin_dir="target/$profile" ;; esac
bin="$bin_dir/policyctl"

stage="$(mktemp -d)/$name"
mkdir -p "$stage/completions" "$stage/man"
cp "$bin" "$stage/policyctl"
cp README.md "$stage/"
for shell in bash zsh fish powershell elvish; do
  "$bin" completion "$shell" > "$stage/completions/policyctl.$shell"
done
"$bin" man --out "$stage/man"
"$bin" version > "$stage/VERSION"

# The SBOM of policyctl itself: every crate compiled into the binary, with versions and licences.
if ! cargo cyclonedx --version >/dev/null 2>&1; then
  cargo install --locked cargo-cyclonedx
fi
cargo cyclonedx --format json --spec-version 1.5 --target "$target" --no-build-deps --override-filename policyctl.cdx >/dev/null
mv policyctl.cdx.json "$stage/policyctl.cdx.json"

mkdir -p "$out"
tar -C "$(dirname "$stage")" -czf "$out/$name.tar.gz" "$name"
cp "$stage/policyctl.cdx.json" "$out/$name.cdx.json"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256" && sha256sum "$name.cdx.json" > "$name.cdx.json.sha256")
# What a user does with it: verify the checksum, unpack, run.
check="$(mktemp -d)"
(cd "$out" && sha256sum -c --quiet "$name.tar.gz.sha256")
tar -C "$check" -xzf "$out/$name.tar.gz"
# Captured first: `| grep -q` closes the pipe at the first match, racing the rest of the output.
unpacked_version="$("$check/$name/policyctl" version)"
grep -q "^policyctl $version$" <<<"$unpacked_version" || { echo "release: the unpacked binary says: $unpacked_version" >&2; exit 1; }
rm -rf "$check"
size="$(stat -c %s "$stage/policyctl")"
echo "release: $out/$name.tar.gz (binary $((size / 1024 / 1024)) MiB, $size bytes, profile $profile)"
