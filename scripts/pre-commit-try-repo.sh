#!/usr/bin/env bash
# Runs this repository's pre-commit hooks the way a user's repository runs them
# (`pre-commit try-repo`), in a throwaway git repository with a conftest-style policy/ (a
# deny rule and its Rego test) and two manifests: the check hook must pass on the compliant one
# and fail on the other, the test hook must pass. Uses the `-system` hooks with the policyctl on
# PATH (the `language: rust` ones build policyctl with cargo first; same entry and files).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q .
git config user.email ci@example.invalid
git config user.name ci
mkdir -p policy deploy
cat > policy/main.rego <<'REGO'
package main
import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	not input.metadata.labels.team
	msg := sprintf("%s needs a team label", [input.metadata.name])
}
REGO
cat > policy/main_test.rego <<'REGO'
package main
import rego.v1

test_unlabelled_deployment_denied if {
	count(deny) == 1 with input as {"kind": "Deployment", "metadata": {"name": "a"}}
}

test_labelled_deployment_allowed if {
	count(deny) == 0 with input as {"kind": "Deployment", "metadata": {"name": "a", "labels": {"team": "x"}}}
}
REGO
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: good\n  labels: {team: shop}\n' > deploy/good.yaml
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n' > deploy/bad.yaml
git add -A && git commit -qm fixture

pre-commit try-repo "$repo" policyctl-test-system --all-files
pre-commit try-repo "$repo" policyctl-check-system --files deploy/good.yaml policy/main.rego
if out="$(pre-commit try-repo "$repo" policyctl-check-system --files deploy/bad.yaml 2>&1)"; then
  echo "$out"
  echo "pre-commit-try-repo: the check hook passed a Deployment without a team label" >&2
  exit 1
fi
grep -q "bad needs a team label" <<<"$out" || { echo "$out"; echo "pre-commit-try-repo: the finding is not in the hook's output" >&2; exit 1; }
echo "pre-commit-try-repo: policyctl-test-system and policyctl-check-system behave"
