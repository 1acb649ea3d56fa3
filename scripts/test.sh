#!/usr/bin/env bash
# Runs rjwt's tests: makes sure redis-server (which the tests start privately,
# on free ports) and a C compiler (for the race detector) are installed, then
# runs `go test -race ./...`. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
  elif command -v brew >/dev/null 2>&1; then
    for p in "${need[@]}"; do [ "$p" = redis-server ] && brew install redis; done
  elif command -v dnf >/dev/null 2>&1; then
    for p in "${need[@]}"; do [ "$p" = redis-server ] && p=redis; $sudo dnf install -y "$p"; done
  else
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi

export CGO_ENABLED=1
exec go test -race -count=1 "$@" ./...
