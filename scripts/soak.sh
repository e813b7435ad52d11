#!/usr/bin/env bash
# Soak test of the webhook (issue 14; not part of CI): the release binary with the built-in
# library on loopback TLS, wrk holding the load at about 70% of the capacity measured first, for
# MINUTES (default 30), RSS sampled every 10 s. Prints capacity, the soak's rate, latency
# percentiles, errors and RSS at start/max/end — the figures docs/reliability.md records.
#   scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
command -v wrk >/dev/null 2>&1 || scripts/install-test-deps.sh
command -v openssl >/dev/null 2>&1 || scripts/install-test-deps.sh
cargo build --release --locked --bin policyctl
work=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/tls.key" -out "$work/tls.crt" -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/policyctl serve -p builtin --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --addr "127.0.0.1:$port" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# An AdmissionReview of the shipped compliant Deployment.
target/release/policyctl parse testdata/k8s/allowed/deployment.yaml | grep -v '^#' > "$work/object.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
text = open(f"{w}/object.json").read()
obj = json.loads(text)
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
  "uid": "soak", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
  "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
  "name": obj["metadata"]["name"], "namespace": "soak", "operation": "CREATE",
  "userInfo": {"username": "soak"}, "object": obj, "oldObject": None, "dryRun": False}}
open(f"{w}/review.json", "w").write(json.dumps(review))
PY
lua() {
  cat > "$work/load.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/review.json", "r")
wrk.body = f:read("*a")
f:close()
function delay() return $1 end
LUA
}
url="https://127.0.0.1:$port/validate?timeout=10s"
rate() { grep 'Requests/sec' | awk '{print $2}'; }
lua 0
capacity=$(wrk -t2 -c8 -d10s -s "$work/load.lua" "$url" | rate)
# Hold ~70%: connections with a 1 ms pause between requests, scaled to the target rate.
lua 1
probe=$(wrk -t2 -c8 -d5s -s "$work/load.lua" "$url" | rate)
conns=$(python3 -c "print(max(1, round(8 * 0.7 * $capacity / $probe)))")
echo "capacity ${capacity} req/s (8 connections); soak: ${conns} connections with a 1 ms pause, ${minutes} min"
( while kill -0 "$pid" 2>/dev/null; do
    echo "$(date +%s) $(awk '/VmRSS/ {print $2}' /proc/$pid/status)"; sleep 10
  done ) > "$work/rss.log" &
wrk -t2 -c"$conns" -d"${minutes}m" --timeout 10s --latency -s "$work/load.lua" "$url" | tee "$work/soak.txt"
errors=$(grep -E 'Non-2xx|Socket errors' "$work/soak.txt" || true)
soak_rate=$(rate < "$work/soak.txt")
python3 - "$work/rss.log" "$capacity" "$soak_rate" "${errors:-none}" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
kb = [int(r[1]) for r in rows]
warm = kb[6:] or kb  # after the first minute
print(f"capacity {float(sys.argv[2]):.0f} req/s; soak {float(sys.argv[3]):.0f} req/s "
      f"({100*float(sys.argv[3])/float(sys.argv[2]):.0f}% of capacity); errors: {sys.argv[4]}")
print(f"RSS MiB: start {kb[0]/1024:.1f}, after 1 min {warm[0]/1024:.1f}, max {max(kb)/1024:.1f}, "
      f"end {kb[-1]/1024:.1f} ({len(kb)} samples)")
PY
grep -c '"level":"ERROR"' "$work/server.log" | sed 's/^/server error lines: /' || true
