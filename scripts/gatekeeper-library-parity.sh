#!/usr/bin/env bash
# Runs the gator suites of Gatekeeper library templates that carry both Rego and CEL
# (K8sNativeValidation) under `--gatekeeper-engine rego` and `--gatekeeper-engine cel`, and
# compares, case by case, the suite verdict and whether `policyctl check` denies the case's
# object (the number of violations may differ: a CEL validation reports one message where a
# Rego rule may report one per container). Exit 1 when any case differs between the engines
# or fails.
#
#   scripts/gatekeeper-library-parity.sh LIBRARY_DIR [POLICYCTL]
#
# LIBRARY_DIR is a checkout of github.com/open-policy-agent/gatekeeper-library (its `library/`
# directory, or any directory holding <template dir>/{template.yaml,suite.yaml,samples/}).
# Not part of `cargo test`: the library is not vendored; figures are in docs/gatekeeper.md.
set -euo pipefail
lib=${1:?usage: $0 LIBRARY_DIR [POLICYCTL]}
bin=${2:-target/debug/policyctl}
[ -x "$bin" ] || cargo build -q
python3 - "$lib" "$bin" <<'PY'
import json, os, subprocess, sys

lib, bin_ = sys.argv[1], sys.argv[2]

def run(args, env_engine):
    out = subprocess.run([bin_] + args + ["--gatekeeper-engine", env_engine, "-o", "json"],
                         capture_output=True, text=True)
    try:
        return out.returncode, json.loads(out.stdout)
    except json.JSONDecodeError:
        return out.returncode, {"error": out.stderr.strip()}

def suites():
    for root, _dirs, files in sorted(os.walk(lib)):
        if "template.yaml" in files and "suite.yaml" in files:
            text = open(os.path.join(root, "template.yaml")).read()
            if "K8sNativeValidation" in text:
                yield root

def case_objects(suite_dir):
    """(case name, template, constraint, object) from the suite, by the same YAML policyctl reads."""
    out = subprocess.run([bin_, "parse", os.path.join(suite_dir, "suite.yaml")],
                         capture_output=True, text=True).stdout
    # `policyctl parse` prints "# file:line" before each document.
    doc = json.loads("\n".join(l for l in out.splitlines() if not l.startswith("#")))
    for t in doc.get("tests", []):
        for c in t.get("cases", []):
            yield (f"{t['name']}/{c['name']}", t["template"], t["constraint"], c["object"])

total = differ = failed = 0
rows = []
for d in suites():
    name = os.path.relpath(d, lib)
    verdicts = {}
    for engine in ("rego", "cel"):
        _, report = run(["test", d], engine)
        if "tests" not in report:
            verdicts[engine] = {"<load>": report.get("error", "no report")}
            continue
        verdicts[engine] = {t["name"]: t["status"] for t in report["tests"]}
    counts = {}
    for case, template, constraint, obj in case_objects(d):
        for engine in ("rego", "cel"):
            _, report = run(["check", "-p", os.path.join(d, template), "-p",
                             os.path.join(d, constraint), os.path.join(d, obj)], engine)
            n = len(report.get("findings", [])) if "findings" in report else report.get("error")
            counts.setdefault(case, {})[engine] = n
    cases = sorted(set(verdicts["rego"]) | set(verdicts["cel"]))
    denied = lambda c, e: (lambda n: n if not isinstance(n, int) else n > 0)(counts.get(c, {}).get(e))
    bad = [c for c in cases if verdicts["rego"].get(c) != verdicts["cel"].get(c)
           or denied(c, "rego") != denied(c, "cel")]
    fails = [c for c in cases if verdicts["cel"].get(c) != "pass" or verdicts["rego"].get(c) != "pass"]
    total += len(cases); differ += len(bad); failed += len(fails)
    rows.append((name, len(cases), sum(v == "pass" for v in verdicts["rego"].values()),
                 sum(v == "pass" for v in verdicts["cel"].values()), bad, fails, counts, verdicts))

print(f"{'template':50} {'cases':>5} {'rego':>5} {'cel':>5}  differing")
for name, n, r, c, bad, fails, counts, verdicts in rows:
    print(f"{name:50} {n:5} {r:5} {c:5}  {', '.join(bad) or '-'}")
    for case, by in sorted(counts.items()):
        if by.get("rego") != by.get("cel") and case not in bad:
            print(f"    same verdict, violations rego={by.get('rego')} cel={by.get('cel')}: {case}")
    for f in fails:
        print(f"    not passing: {f}: rego={verdicts['rego'].get(f)} cel={verdicts['cel'].get(f)}")
    for b in bad:
        print(f"    differs: {b}: verdicts rego={verdicts['rego'].get(b)} cel={verdicts['cel'].get(b)}; "
              f"violations rego={counts.get(b, {}).get('rego')} cel={counts.get(b, {}).get('cel')}")
print(f"\n{len(rows)} templates, {total} cases: {differ} differ between the engines, {failed} not passing")
sys.exit(1 if differ or failed else 0)
PY
