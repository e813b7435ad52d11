#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a fixed time with cargo-fuzz (libFuzzer, nightly
# toolchain), seeded from testdata/, and prints executions and crashes per target — the figures
# docs/reliability.md records. Not part of CI (it needs nightly and minutes per target).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 120 s, every target)
# A crash is saved under fuzz/artifacts/<target>/; reproduce it with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
# and keep it, once fixed, as a regression test in the main crate.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-120}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(parse_inputs admission_review policy_documents signatures opa_bundles cel_expressions graphql_documents yaml_fast_path)
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
[ -x target/debug/policyctl ] || cargo build --bin policyctl
rustup toolchain list | grep -q '^nightly' || { echo "scripts/fuzz.sh needs a nightly toolchain (rustup toolchain install nightly)" >&2; exit 2; }

# Seeds: every testdata file, with the selector byte a target reads first where it has one.
seed() {
  local target=$1 prefix=$2; shift 2
  mkdir -p "fuzz/corpus/$target"
  local f n=0
  for f in "$@"; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    { printf "\\x$(printf %02x "$prefix")"; head -c 65536 "$f"; } > "fuzz/corpus/$target/seed-$prefix-$n"
  done
}
mapfile -t yaml < <(find testdata admission -name '*.yaml' -o -name '*.yml' | sort)
mapfile -t json < <(find testdata -name '*.json' | sort)
# parse_inputs selectors, in fuzz_targets/parse_inputs.rs's PARSERS order.
seed parse_inputs 0 "${yaml[@]}"
seed parse_inputs 1 "${json[@]}"
seed parse_inputs 3 $(find testdata -name '*.toml' | sort)
seed parse_inputs 4 $(find testdata -name '*.tf' -o -name '*.hcl' | sort)
seed parse_inputs 6 $(find testdata admission -iname '*dockerfile*' -o -iname 'Containerfile' | sort)
seed parse_inputs 7 $(find testdata -name '*.ini' | sort)
seed parse_inputs 8 $(find testdata -name '.env*' -o -name '*.env' | sort)
seed parse_inputs 11 $(find testdata -name '*.xml' | sort)
seed parse_inputs 12 $(find testdata -name '*.properties' | sort)
mkdir -p fuzz/corpus/admission_review fuzz/corpus/policy_documents
# AdmissionReviews of the shipped manifests, as the API server sends them.
for f in testdata/k8s/allowed/*.yaml testdata/k8s/denied/*.yaml; do
  [ -f "$f" ] || continue
  obj=$(target/debug/policyctl parse "$f" 2>/dev/null | grep -v '^#' | head -c 60000) || continue
  [ -n "$obj" ] || continue
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"name":"x","namespace":"d","operation":"CREATE","userInfo":{"username":"a"},"object":%s,"oldObject":null,"dryRun":false}}' "$obj" \
    > "fuzz/corpus/admission_review/$(basename "$f").json" 2>/dev/null || true
done
for f in $(grep -rl -e 'gatekeeper.sh/' -e 'policy.sigstore.dev/' testdata admission --include='*.yaml' | sort); do
  cp "$f" "fuzz/corpus/policy_documents/$(echo "$f" | tr / _)"
done
mapfile -t sig < <(find testdata/sigstore-real -type f \( -name '*.json' -o -name '*.pem' -o -name '*.crt' \) | sort)
seed signatures 0 "${sig[@]}"
seed signatures 1 "${sig[@]}"
seed signatures 3 "${sig[@]}"
# CEL: every expression of the testdata templates, against a Pod ("expression\0object").
mkdir -p fuzz/corpus/cel_expressions
n=0
obj='{"metadata":{"name":"p","annotations":{"docs":"https://x.y/z"}},"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"memory":"2Gi"}}}]}}'
while IFS= read -r e; do
  n=$((n + 1))
  printf '%s\0%s' "$e" "$obj" > "fuzz/corpus/cel_expressions/seed-$n"
done < <(grep -rhoE "expression: '.*'" testdata --include='*.yaml' | sed -E "s/^expression: '(.*)'$/\1/; s/''/'/g" | sort -u)
# GraphQL ("query\0schema", or a query alone against the target's schema): the queries and
# schemas of the patched regorus's GraphQL cases.
mkdir -p fuzz/corpus/graphql_documents
printf '{ q(a: [{f: 1.5, g: [{f: 2}]}], e: B) { ... on Q { id n { id } } ...F } }\nfragment F on U { __typename }' > fuzz/corpus/graphql_documents/seed-1
printf 'query X($v: [In!] = [{f: 1}]) { q(a: $v) @d(a: 1) @d(a: 2) { __typename } }\0type Q { q(a: [In!]): Int } input In { f: Float }' > fuzz/corpus/graphql_documents/seed-2
n=2
while IFS= read -r q; do
  n=$((n + 1))
  printf '%s' "$q" > "fuzz/corpus/graphql_documents/seed-$n"
done < <(grep -rhoE 'graphql\.(parse_query|is_valid|parse)\(`[^`]*`' third_party/regorus/tests --include='*.yaml' | sed -E 's/^[^`]*`//; s/`$//' | sort -u)
# The fast YAML reader: every YAML document in the repository, including the patched regorus's
# test cases (block scalars of Rego).
mkdir -p fuzz/corpus/yaml_fast_path
n=0
while IFS= read -r f; do
  n=$((n + 1))
  head -c 65536 "$f" > "fuzz/corpus/yaml_fast_path/seed-$n"
done < <(find testdata admission charts third_party/regorus/tests -name '*.yaml' -o -name '*.yml' | sort)
mkdir -p fuzz/corpus/opa_bundles
printf '\x01{"b": [1, 2.50, "x\\u2028"], "a": {"c": null}}' > fuzz/corpus/opa_bundles/json-seed

count_artifacts() { { find "fuzz/artifacts/$1" -type f 2>/dev/null || true; } | wc -l; }
mkdir -p fuzz/logs
printf '%-18s %12s %8s %8s\n' target executions seconds crashes
for t in "${targets[@]}"; do
  before=$(count_artifacts "$t")
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -max_len=262144 \
    -print_final_stats=1 > "fuzz/logs/$t.log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  after=$(count_artifacts "$t")
  printf '%-18s %12s %8s %8s\n' "$t" "${execs:-?}" "$secs" "$((after - before))"
done
