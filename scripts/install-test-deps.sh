#!/usr/bin/env bash
# Installs the system tools the test suite drives, when they are missing. Idempotent.
#   docker-registry  a real OCI registry on loopback (supply-chain and webhook tests)
#   skopeo           pushes OCI layouts: the independent fixture upload path
#   openssl          signs fixture payloads: the independent signing path (the CLI only;
#                    policyctl itself links no OpenSSL)
#   zsh, fish        parse the generated shell completions (bash is always there)
#   man-db           renders the generated man pages (`man -l`)
#   wrk              load during the webhook's policy-set swap (tests/policy_sets.rs)
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing test tools: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
