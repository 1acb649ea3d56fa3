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
# Then the matrix: the same tests run again on each newer server that
# scripts/servers.sh fetches from Debian's packages and caches (Redis 8.0,
# Valkey 8.0 and 8.1; Redis 7.0 is the host's, above): every package of the
# root module whose tests start servers through internal/redistest (found
# with go list, so a package added later is in it) but examples/demo (its
# browser test is about the page, and takes minutes), on a single node, a
# Cluster and Sentinel as each test does, without -race (Go's side is the
# same on every server and the run above has it). The harness checks that the
# programs on PATH are the server asked for (RJWT_EXPECT_SERVER). Prints each
# server's wall time. RJWT_MATRIX="redis-8.0 valkey-8.1" runs only those,
# RJWT_MATRIX=0 none. Where scripts/servers.sh cannot run (not x86_64 Linux
# with apt-get and dpkg) the matrix is skipped with a message; where it runs
# and fails (no network and no cache), the script fails.
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

# The matrix (see the top of this file).
matrix=${RJWT_MATRIX:-redis-8.0 valkey-8.0 valkey-8.1}
if [ "$matrix" = 0 ]; then
  echo "scripts/test.sh: matrix: off (RJWT_MATRIX=0)" >&2
elif [ "$(uname -sm)" != "Linux x86_64" ] || ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "scripts/test.sh: matrix: skipped: scripts/servers.sh needs x86_64 Linux with apt-get and dpkg (only the host's redis-server was tested)" >&2
else
  mstart=$SECONDS
  # "name bin-dir server version", one line per server
  if ! ready=$(./scripts/servers.sh $matrix); then
    echo "scripts/test.sh: matrix: scripts/servers.sh failed" >&2
    exit 1
  fi
  # The packages whose tests start servers, but examples/demo.
  mapfile -t pkgs < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
    awk '/ github.com\/rjwt\/rjwt\/internal\/redistest( |$)/ && $1 != "github.com/rjwt/rjwt/examples/demo" {print $1}')
  mapfile -t servers <<<"$ready"
  # run_on LABEL BIN WANT [VAR=value ...]: the packages on one server, with
  # the environment given (RJWT_TEST_LAYOUT=lean: the lean layout).
  run_on() {
    local label=$1 bin=$2 want=$3
    shift 3
    echo "scripts/test.sh: matrix $label: ${#pkgs[@]} packages" >&2
    local start=$SECONDS out rc=0
    out=$(mktemp)
    env "$@" PATH="$bin:$PATH" RJWT_EXPECT_SERVER="$want" go test -count=1 -p 1 "${args[@]}" "${pkgs[@]}" 2>&1 | tee "$out" || rc=$?
    if [ $rc -ne 0 ]; then
      # Each failed package with the top-level tests that failed in it ("pkg
      # TestA|TestB"; "pkg " when it failed otherwise: a build, a panic).
      mapfile -t failed < <(awk '/^--- FAIL: / {t = t (t == "" ? "" : "|") $3}
        /^(FAIL|ok)[ \t]+[a-z]/ && NF >= 2 {if ($1 == "FAIL") print $2 " " t; t = ""}' "$out")
      # Tests that wait on timeouts can fail on a machine busy enough to
      # stall a process for hundreds of milliseconds: each failed test runs
      # once more, and passes only if it passes then (named below).
      local again=0 f pkg tests
      for f in "${failed[@]}"; do
        pkg=${f%% *} tests=${f#* }
        if [ -z "$tests" ]; then again=1; continue; fi
        echo "scripts/test.sh: matrix $label: running again in $pkg: $tests" >&2
        env "$@" PATH="$bin:$PATH" RJWT_EXPECT_SERVER="$want" go test -count=1 "${args[@]}" -run "^($tests)\$" "$pkg" || again=1
      done
      if [ ${#failed[@]} -gt 0 ] && [ $again = 0 ]; then
        echo "scripts/test.sh: matrix $label: FLAKY: failed once, then passed: ${failed[*]}" >&2
      else
        status=1
      fi
    fi
    rm -f "$out"
    echo "scripts/test.sh: matrix $label: $((SECONDS - start)) s" >&2
  }
  args=("$@")
  for line in "${servers[@]}"; do
    read -r name bin server version <<<"$line"
    # The major.minor the name says, e.g. "valkey 8.1."
    want="$server ${name#*-}."
    run_on "$name ($server $version)" "$bin" "$want" RJWT_MATRIX_SERVER="$name"
    # The whole suite again on the lean layout (one hash per user), where
    # the server has hash-field expiry (docs/layouts.md).
    if [ "$name" = redis-8.0 ]; then
      run_on "$name ($server $version), lean layout" "$bin" "$want" RJWT_TEST_LAYOUT=lean
    fi
  done
  echo "scripts/test.sh: matrix: $((SECONDS - mstart)) s" >&2
fi
exit $status
