#!/usr/bin/env bash
# Fetches and caches the newer servers the test matrix runs on, from Debian's
# own packages (deb.debian.org, no other registry), without installing
# anything: the host's packages (its Redis 7.0, the Redis on 6379) are never
# touched.
#
#   redis-8.0   Redis 8.0.x    Debian trixie
#   valkey-8.1  Valkey 8.1.x   Debian trixie
#   valkey-8.0  Valkey 8.0.x   Debian bookworm-backports
#
# For each it downloads the server's packages and the C libraries they link
# (apt-get download, with a private apt configuration: the host's sources,
# lists and dpkg status are not read or changed), unpacks them into one
# directory (dpkg -x) and writes
#
#   $RJWT_SERVERS/<name>/bin/{redis-server,redis-sentinel,redis-cli}
#
# small wrappers that run the program through the loader and the libraries of
# that same Debian release (ld.so --library-path), so a Debian 12 host runs
# trixie's binaries, whose C library is newer than its own. The names are
# Redis's, also for Valkey (they run valkey-server etc.), so that
# PATH=$RJWT_SERVERS/<name>/bin:$PATH makes the test harness
# (internal/redistest, which runs redis-server, redis-sentinel and redis-cli
# from PATH) use that server with no code change. Redis and Valkey choose
# server or sentinel mode from argv[0], which the loader sets to the
# program's path: .../redis-sentinel is a Sentinel. <name>/version holds what
# the server says it is (e.g. "redis 8.0.2").
#
# Usage: scripts/servers.sh [name...]   (default: all three)
# Prints, one per line, "<name> <bin dir> <version>" for each server ready.
#
# Cached and idempotent: a server whose wrappers answer with the expected
# version is left as it is (no network); a server whose packages are cached
# but whose tree is missing is unpacked again without the network; only what
# is missing is downloaded. Each server is checked after unpacking: every
# library it loads must come from its own tree (ld.so --list), and it must
# report the expected version. Runs at the same time take turns (flock).
#
# RJWT_SERVERS (default ${XDG_CACHE_HOME:-~/.cache}/rjwt/servers) is where
# the servers go; RJWT_DEBIAN_MIRROR (default http://deb.debian.org/debian)
# the mirror. Needs apt-get, dpkg and Debian's archive keyring
# (/usr/share/keyrings/debian-archive-keyring.gpg, package
# debian-archive-keyring), on x86_64 Linux.
set -euo pipefail

cache=${RJWT_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/rjwt/servers}
mirror=${RJWT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# name → "suites|program prefix|expected version prefix"
declare -A spec=(
  [redis-8.0]="trixie|redis|8.0."
  [valkey-8.1]="trixie|valkey|8.1."
  [valkey-8.0]="bookworm bookworm-backports|valkey|8.0."
)
all=(redis-8.0 valkey-8.0 valkey-8.1)
# The C libraries the servers and redis-cli link, with theirs (checked after
# unpacking: a missing one fails the check instead of loading the host's).
libs=(libc6 libjemalloc2 liblzf1 libstdc++6 libsystemd0 libatomic1 libgcc-s1
  libcap2 libzstd1 liblz4-1 liblzma5 libgcrypt20 libgpg-error0 zlib1g)
# libssl3 was renamed libssl3t64 in trixie.
declare -A ssl=([trixie]=libssl3t64 [bookworm]=libssl3)

declare -A updated=() # the apt directories updated by this run

say() { echo "scripts/servers.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(uname -sm)" = "Linux x86_64" ] || die "runs Debian's amd64 packages: needs x86_64 Linux, not $(uname -sm)"

# ready name: the server's wrappers run and report the expected version.
ready() {
  local name=$1 want
  want=$(cut -d'|' -f3 <<<"${spec[$name]}")
  local dir=$cache/$name
  [ -f "$dir/version" ] && [ -x "$dir/bin/redis-server" ] && [ -x "$dir/bin/redis-sentinel" ] && [ -x "$dir/bin/redis-cli" ] || return 1
  local v
  v=$(server_version "$dir/bin/redis-server") || return 1
  [[ $v == *" $want"* ]] && [ "$(cat "$dir/version")" = "$v" ]
}

# server_version prog: "redis 8.0.2" or "valkey 8.1.1" from prog --version
# ("Redis server v=8.0.2 ..." / "Server v=8.1.1 ..." on Valkey, which also
# names itself in its output as "Valkey server v=").
server_version() {
  local out
  out=$("$1" --version 2>/dev/null) || return 1
  local v=${out#*v=}
  v=${v%% *}
  case $out in
    [Vv]alkey*) echo "valkey $v" ;;
    Redis*) echo "redis $v" ;;
    *) return 1 ;;
  esac
}

# apt_for suite...: runs apt-get with a private configuration for those
# suites under $cache/.apt/<suites>.
aptdir() { echo "$cache/.apt/${*// /+}"; }
apt_private() {
  local dir=$1
  shift
  apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$dir/sources" \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$dir/preferences" \
    -o Dir::State::Lists="$dir/lists" -o Dir::State::status="$dir/status" \
    -o Dir::Cache="$dir/cache" -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
    -o Debug::NoLocking=1 "$@"
}

# fetch name: makes $cache/name/debs hold one .deb of each package it needs,
# downloading them (all again) when any is missing.
fetch() {
  local name=$1 suites prefix
  IFS='|' read -r suites prefix _ <<<"${spec[$name]}"
  local base=${suites%% *}
  local pkgs=("$prefix-server" "$prefix-sentinel" "$prefix-tools" "${libs[@]}" "${ssl[$base]}")
  local debs=$cache/$name/debs missing=0 p
  for p in "${pkgs[@]}"; do
    local n
    n=$(compgen -G "$debs/${p}_*.deb" | wc -l || true)
    [ "$n" = 1 ] || missing=1
  done
  [ $missing = 0 ] && return 0
  [ -r "$keyring" ] || die "needs Debian's archive keyring at $keyring (apt-get install debian-archive-keyring)"
  local dir
  dir=$(aptdir "$suites")
  mkdir -p "$dir/sources" "$dir/preferences" "$dir/lists/partial" "$dir/cache/archives/partial"
  : >"$dir/status" # nothing installed: every package's candidate is the suites'
  cat >"$dir/sources/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: $keyring
EOF
  if [ -z "${updated[$dir]:-}" ]; then
    say "$name: apt-get update ($suites)"
    apt_private "$dir" update >"$dir/update.log" 2>&1 || { cat "$dir/update.log" >&2; die "$name: apt-get update failed"; }
    updated[$dir]=1
  fi
  local tmp=$cache/$name/debs.new
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # Nothing is installed (the private status is empty), so each package's
  # candidate is its newest in the suites, also one only in backports.
  say "$name: apt-get download ${pkgs[*]}"
  (cd "$tmp" && apt_private "$dir" download "${pkgs[@]}") >"$dir/download.log" 2>&1 ||
    { cat "$dir/download.log" >&2; die "$name: apt-get download failed"; }
  rm -rf "$debs"
  mv "$tmp" "$debs"
}

# unpack name: unpacks the debs into $cache/name/root, checks the server and
# writes its wrappers and version file.
unpack() {
  local name=$1 prefix want
  IFS='|' read -r _ prefix want <<<"${spec[$name]}"
  local dir=$cache/$name
  local tmp=$dir/root.new
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local d
  for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$tmp"; done
  # The loader is a real file under lib/ or usr/lib/ (bookworm's lib64 link
  # is absolute: it would name the host's).
  local ld
  ld=$(find "$tmp/lib/x86_64-linux-gnu" "$tmp/usr/lib/x86_64-linux-gnu" -maxdepth 1 -name ld-linux-x86-64.so.2 -type f 2>/dev/null | head -n1 || true)
  [ -n "$ld" ] || die "$name: no ld-linux-x86-64.so.2 in the unpacked libc6"
  # Swap the tree in: wrappers name the final path.
  if [ -d "$dir/root" ]; then rm -rf "$dir/root.old" && mv "$dir/root" "$dir/root.old"; fi
  mv "$tmp" "$dir/root"
  rm -rf "$dir/root.old"
  local root=$dir/root
  ld=$root${ld#"$tmp"}
  local libpath=$root/usr/lib/x86_64-linux-gnu
  [ -d "$root/lib/x86_64-linux-gnu" ] && libpath=$root/lib/x86_64-linux-gnu:$libpath
  local prog
  for prog in server sentinel cli; do
    local bin=$root/usr/bin/$prefix-$prog
    [ -e "$bin" ] || die "$name: $prefix-$prog missing from the packages"
    # Every library from the tree, none from the host.
    local list
    list=$("$ld" --list --library-path "$libpath" "$bin" 2>&1) || die "$name: $prefix-$prog does not load: $list"
    ! grep -q 'not found' <<<"$list" || die "$name: $prefix-$prog needs libraries its packages lack: $list (add their packages to libs in scripts/servers.sh)"
    local stray
    stray=$(awk '/=>/ {print $3} !/=>/ {print $1}' <<<"$list" | grep '^/' | grep -v "^$root/" || true)
    [ -z "$stray" ] || die "$name: $prefix-$prog loads libraries from the host: $stray (add their packages to libs in scripts/servers.sh)"
  done
  local bindir=$dir/bin
  mkdir -p "$bindir"
  for prog in server sentinel cli; do
    local w=$bindir/redis-$prog
    {
      echo "#!/bin/sh"
      echo "# Written by rjwt's scripts/servers.sh: $name's $prefix-$prog, run with its own"
      echo "# Debian release's loader and libraries (argv[0] is the program's path)."
      echo "exec \"$ld\" --library-path \"$libpath\" \"$root/usr/bin/$prefix-$prog\" \"\$@\""
    } >"$w.new"
    chmod 755 "$w.new"
    mv -f "$w.new" "$w"
  done
  local v
  v=$(server_version "$bindir/redis-server") || die "$name: redis-server --version failed"
  [[ $v == *" $want"* ]] || die "$name: the packages hold $v, not $want*"
  echo "$v" >"$dir/version.new"
  mv -f "$dir/version.new" "$dir/version"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do [ -n "${spec[$n]:-}" ] || die "unknown server $n (known: ${all[*]})"; done

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

for n in "${names[@]}"; do
  if ! ready "$n"; then
    fetch "$n"
    unpack "$n"
    say "$n: ready ($(cat "$cache/$n/version"))"
  fi
  echo "$n $cache/$n/bin $(cat "$cache/$n/version")"
done
