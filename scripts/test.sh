#!/usr/bin/env bash
# Installs what the tests need and runs every test. This is the README's test
# command and the whole of CI (.ci/run). Long fuzzing and benchmarks are
# opt-in: see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the interop tests use: OpenSSH for the shell-access test.
# Later issues add Kannel, osmo-hlr, sipp and chromium here.
APT_PACKAGES=(openssh-server openssh-client)
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
