#!/usr/bin/env bash
# Installs what the tests need and runs every test. This is the README's test
# command and the whole of CI (.ci/run). Long fuzzing and benchmarks are
# opt-in: see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the interop tests use: OpenSSH for the shell-access test,
# Kannel (bearerbox, smsbox) as a downstream SMPP peer (docs/interop.md),
# SIPp (Debian's package sip-tester) as the far end of SIP calls
# (docs/sipcall.md), Chromium for the pager's host-stand page
# (docs/pager.md). Later issues add osmo-hlr here.
APT_PACKAGES=(openssh-server openssh-client kannel sip-tester chromium)
if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  fi
fi

# Node packages of the interop harness (npm smpp, pinned by
# interop/node/package-lock.json). npm ci runs when node_modules is missing
# or was installed from another lock file; the stamp records which.
NODE_DIR=interop/node
lock_sum=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)
stamp="$NODE_DIR/node_modules/.switchboard-lock-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund
  echo "$lock_sum" > "$stamp"
fi

# Every interop program is installed now: a test that cannot find one must
# fail, not skip (internal/interop.Require).
export SWITCHBOARD_INTEROP=1

go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

# The huge-page reservation is off under the race detector (its shadow
# memory would make the reserved range resident), so its test runs once
# more without it.
echo "== go test (without -race: internal/hugepages)"
go test -count=1 ./internal/hugepages
