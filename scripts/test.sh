#!/usr/bin/env bash
# Runs rjwt's tests: makes sure redis-server (which the tests start privately,
# on free ports), redis-cli and redis-sentinel (for the harness' Redis Cluster
# and Sentinel setups) and a C compiler (for the race detector) are installed,
# then runs `go vet ./...` and `go test -race -count=1 ./...` in every module
# of the repository (each directory with a go.mod, testdata excluded: the
# root, rjwtotel, cmd/rjwt-bench, internal/releasecheck, and any added
# later). internal/releasecheck is the release check of RELEASING.md. Extra
# arguments go to every `go test`. Prints each module's wall time.
#
# On a Debian host with systemd, installing the redis-server and
# redis-sentinel packages also starts system services on ports 6379 and
# 26379; the tests never use them (every server they talk to is their own,
# on a free port).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || need+=(gcc)
# The demo's page is tested in a real browser (examples/demo/browsertest).
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${RJWT_CHROMIUM:-}" ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
  elif command -v brew >/dev/null 2>&1; then
    # Homebrew's redis has redis-server, redis-cli and redis-sentinel.
    for p in "${need[@]}"; do case "$p" in redis-*) brew install redis; break ;; esac; done
  elif command -v dnf >/dev/null 2>&1; then
    # Fedora's redis has redis-server, redis-cli and redis-sentinel.
    pkgs=()
    for p in "${need[@]}"; do
      case "$p" in redis-*) p=redis ;; esac
      [[ " ${pkgs[*]} " == *" $p "* ]] || pkgs+=("$p")
    done
    $sudo dnf install -y "${pkgs[@]}"
  else
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi

export CGO_ENABLED=1
# Tests that need Redis fail instead of skipping when it is missing.
export RJWT_REQUIRE_REDIS=1
# The DPoP interop test runs panva's dpop and jose under Node (npm ci from the
# npm registry); where Node is installed it must not skip.
command -v npm >/dev/null 2>&1 && export RJWT_REQUIRE_NODE=1
status=0
root=$PWD
# The root first, then the nested modules in path order.
mapfile -t mods < <(find . -name go.mod -not -path '*/testdata/*' -not -path '*/.*/*' \
  -exec dirname {} \; | LC_ALL=C sort)
for m in "${mods[@]}"; do
  flags=()
  # -p 1 in the root: one test package at a time. The packages start their
  # own Redis servers, clusters and load; run side by side on two cores they
  # starve each other's timing-sensitive tests (a failover under load next
  # to a demo's bcrypt logins).
  [ "$m" = . ] && flags=(-p 1)
  echo "scripts/test.sh: module $m" >&2
  start=$SECONDS
  (cd "$root/$m" && go vet ./... && go test -race -count=1 "${flags[@]}" "$@" ./...) || status=$?
  echo "scripts/test.sh: module $m: $((SECONDS - start)) s" >&2
done
exit $status
