#!/usr/bin/env bash
# Installs the system tools the test suite drives, when they are missing. Idempotent.
set -euo pipefail
need=()
# (Supply-chain and webhook tests add docker-registry, skopeo and openssl here.)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
