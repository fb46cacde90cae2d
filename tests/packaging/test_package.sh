#!/usr/bin/env bash
# The packaging test (issue 20, docs/adr/0029-packaging.md):
#   1. `cmake --install` of the package build into a DESTDIR: the expected tree, nothing else
#      (no tests, benches or demo); into another prefix: the unit names that prefix's cwtsd.
#   2. A third-party consumer (its own CMake project, outside the source tree) finds
#      cwts_shm_layout in the installed prefix, compiles every layout header with -Werror and
#      agrees with the installed cwtsd on the layout version and hash.
#   3. The .deb (scripts/package): its Depends names the runtime libraries.
#   4. apt-get install of the .deb into a throwaway chroot of this host's Debian release (a
#      debootstrap --variant=minbase root cached in build/package-chroot/, so the dependencies
#      really resolve from the archive), then: the cwts user and groups, /etc/cwtsd/cwtsd.json,
#      `cwtsd --check-config` as cwts on it and on the installed example, cwts-sim on its
#      installed exchange info, the chroot's `systemd-analyze verify` of the installed unit,
#      reinstall, remove
#      (config kept), purge (all gone).
#
#   tests/packaging/test_package.sh [--deb FILE]   without --deb: scripts/package builds it
#
# Needs root (chroot, mount namespace), debootstrap and the Debian mirror (CWTS_DEBIAN_MIRROR,
# default http://deb.debian.org/debian; security: CWTS_DEBIAN_SECURITY_MIRROR). The first run
# bootstraps the chroot (~1 min); later runs copy it.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

deb=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deb)
      [[ $# -ge 2 ]] || die "--deb needs a file"
      deb="$(realpath "$2")"
      shift 2
      ;;
    *) die "unknown argument: $1 (--deb FILE)" ;;
  esac
done

[[ "$(id -u)" -eq 0 ]] || die "the packaging test needs root (chroot, mounts)"
for tool in debootstrap dpkg-deb chroot unshare cmake; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/lib.sh lists the packages)"
done

cd "$CWTS_ROOT"
build="$CWTS_ROOT/build/package"
checks=0
ok() {
  checks=$((checks + 1))
  printf 'ok %d - %s\n' "$checks" "$*"
}
fail() {
  printf 'not ok - %s\n' "$*" >&2
  exit 1
}

if [[ -z "$deb" ]]; then
  deb="$("$CWTS_ROOT/scripts/package" | tail -n 1)" || die "scripts/package failed"
fi
[[ -f "$deb" ]] || die "no package at $deb"
version="$(dpkg-deb -f "$deb" Version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/cwts-package-test.XXXXXX")"
chroot_dir="$CWTS_ROOT/build/package-chroot"
run_root=""
cleanup() {
  rm -rf "$work"
  if [[ -n "$run_root" ]]; then rm -rf "$run_root"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. the install tree
info "cmake --install into a DESTDIR"
DESTDIR="$work/destdir" cmake --install "$build" >/dev/null || fail "cmake --install (DESTDIR)"
expected=(
  usr/bin/cwtsd usr/bin/cwtsctl usr/bin/cwts-sim usr/bin/cwts-replay usr/bin/cwts-shm-layout
  usr/share/cwts/cwtsd.example.json usr/share/cwts/demo.json usr/share/cwts/README.md
  usr/share/cwts/grafana/cwtsd.json usr/share/cwts/prometheus/cwtsd-alerts.yml
  usr/share/cwts/sim/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz
  usr/lib/systemd/system/cwtsd.service
  usr/share/doc/cwts/README.md usr/share/doc/cwts/operations.md usr/share/doc/cwts/shm_layout.md
  usr/include/cwts/shm_layout/layout.hpp usr/include/cwts/concurrent/seqlock.hpp
  usr/include/cwts/core/money.hpp
  usr/share/cmake/cwts_shm_layout/cwts_shm_layoutConfig.cmake
  usr/share/cmake/cwts_shm_layout/cwts_shm_layoutConfigVersion.cmake
  usr/share/cmake/cwts_shm_layout/cwts_shm_layoutTargets.cmake
)
for f in "${expected[@]}"; do
  [[ -e "$work/destdir/$f" ]] || fail "cmake --install: /$f missing"
done
ok "cmake --install: the ${#expected[@]} expected files"
# Nothing else: every installed file is in the list or under the three header directories.
extra="$(cd "$work/destdir" && find . -type f | sed 's|^\./||' | sort \
  | grep -v -x -F -f <(printf '%s\n' "${expected[@]}") \
  | grep -v -E '^usr/include/cwts/(shm_layout|concurrent|core)/[a-z_]+\.hpp$' || true)"
[[ -z "$extra" ]] || fail "cmake --install: unexpected files: $extra"
ok "cmake --install: no tests, benches, demo or stray files"
grep -q '^ExecStart=/usr/bin/cwtsd --config /etc/cwtsd/cwtsd.json$' \
  "$work/destdir/usr/lib/systemd/system/cwtsd.service" || fail "unit: ExecStart is not /usr/bin/cwtsd"

info "cmake --install --prefix (a prefix of its own)"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null || fail "cmake --install --prefix"
grep -q "^ExecStart=$prefix/bin/cwtsd " "$prefix/lib/systemd/system/cwtsd.service" \
  || fail "unit: ExecStart does not follow --prefix"
grep -q "^ExecStartPre=$prefix/bin/cwtsd " "$prefix/lib/systemd/system/cwtsd.service" \
  || fail "unit: ExecStartPre does not follow --prefix"
ok "cmake --install --prefix: the unit runs that prefix's cwtsd"

# ---------------------------------------------------------------------------------------------
# 2. a third-party reader: find_package(cwts_shm_layout) against the installed prefix only
info "consumer: find_package(cwts_shm_layout) in $prefix"
consumer="$work/consumer"
mkdir -p "$consumer"
cat >"$consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(layout_reader LANGUAGES CXX)
find_package(cwts_shm_layout 0.1 CONFIG REQUIRED)
add_executable(layout_reader main.cpp)
target_link_libraries(layout_reader PRIVATE cwts::shm_layout)
target_compile_options(layout_reader PRIVATE -Wall -Wextra -Wpedantic -Werror)
CMAKE
{
  for h in "$prefix"/include/cwts/shm_layout/*.hpp; do
    printf '#include "cwts/shm_layout/%s"\n' "$(basename "$h")"
  done
  cat <<'CPP'
#include <cstdio>

static_assert(cwts::layout::kLayoutVersion >= 1);
static_assert(sizeof(cwts::layout::Quote) == 112);
static_assert(sizeof(cwts::layout::Candle) == 56);

int main() {
  std::printf("layout version %u, hash %016llx\n",
              static_cast<unsigned>(cwts::layout::kLayoutVersion),
              static_cast<unsigned long long>(cwts::layout::kLayoutHash));
}
CPP
} >"$consumer/main.cpp"
cmake -S "$consumer" -B "$consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 \
  || { cat "$work/consumer.log" >&2; fail "consumer: configure (find_package)"; }
cmake --build "$consumer/build" >>"$work/consumer.log" 2>&1 \
  || { cat "$work/consumer.log" >&2; fail "consumer: build"; }
# It compiled against the installed headers, not the source tree's.
grep -q -F -- "-isystem $prefix/include" "$consumer/build/compile_commands.json" 2>/dev/null \
  || grep -r -q -F "$prefix/include" "$consumer/build/build.ninja" \
  || fail "consumer: not compiled against $prefix/include"
if grep -r -q -F "$CWTS_ROOT/libs" "$consumer/build/build.ninja"; then
  fail "consumer: compiled against the source tree"
fi
reader="$("$consumer/build/layout_reader")"
engine="$("$prefix/bin/cwtsd" --version)"
# "cwtsd 0.1.0 (shared-memory layout version 5, hash 0123456789abcdef)"
want="$(sed -nE 's/.*layout version ([0-9]+), hash ([0-9a-f]+).*/layout version \1, hash \2/p' <<<"$engine")"
[[ -n "$want" && "$reader" == "$want" ]] || fail "consumer says '$reader', cwtsd says '$engine'"
ok "consumer: find_package(cwts_shm_layout) + cwts::shm_layout builds; $reader, as cwtsd"

# ---------------------------------------------------------------------------------------------
# 3. the package's metadata
depends="$(dpkg-deb -f "$deb" Depends)"
for d in adduser libc6 libstdc++6 libssl3 libsystemd0 libsimdjson14 libfmt9 libspdlog zlib1g; do
  [[ "$depends" == *"$d"* ]] || fail "Depends lacks $d: $depends"
done
ok "Depends: $depends"
if dpkg-deb -c "$deb" | grep -E -q '_test$|/bench|cwts-shm-demo'; then
  fail "the package holds tests, benches or the demo"
fi
ok "the package holds no tests, benches or demo"

# ---------------------------------------------------------------------------------------------
# 4. apt-get install into a throwaway chroot of this Debian release
codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
[[ -n "$codename" ]] || die "no VERSION_CODENAME in /etc/os-release: not Debian?"
mirror="${CWTS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${CWTS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
cache_root="$chroot_dir/$codename"
archives="$chroot_dir/archives" # downloaded .debs, kept across runs
mkdir -p "$chroot_dir" "$archives/partial"

# Runs "$@" in ROOT ($1) with /proc and /dev, in a mount namespace of its own (the mounts go
# away with it), with the host's network for apt.
in_root() {
  local root="$1"
  shift
  unshare --mount --fork -- /bin/sh -c '
    root="$1" archives="$2"; shift 2
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
      mount --bind "$archives" "$root/var/cache/apt/archives" || exit 99
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$archives" "$@"
}

# The cached root: minbase, the release's three suites, and systemd (its systemd-analyze checks
# the installed unit against the installed system). Bump recipe when this changes.
recipe="minbase+updates+security+systemd 1"
if [[ "$(cat "$cache_root/.cwts-ready" 2>/dev/null || true)" != "$recipe" ]]; then
  info "chroot: debootstrap --variant=minbase $codename (once; cached in build/package-chroot/)"
  rm -rf "$cache_root" "$cache_root.tmp"
  debootstrap --variant=minbase "$codename" "$cache_root.tmp" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (mirror $mirror)"; }
  cat >"$cache_root.tmp/etc/apt/sources.list" <<SOURCES
deb $mirror $codename main
deb $mirror $codename-updates main
deb $security $codename-security main
SOURCES
  # Never start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$cache_root.tmp/usr/sbin/policy-rc.d"
  chmod 755 "$cache_root.tmp/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$cache_root.tmp/etc/resolv.conf"
  { in_root "$cache_root.tmp" apt-get update -q \
      && in_root "$cache_root.tmp" apt-get install -y -q --no-install-recommends systemd procps \
      && touch "$cache_root.tmp/.cwts-apt-updated"; } >"$work/chroot-setup.log" 2>&1 \
    || { tail -30 "$work/chroot-setup.log" >&2; die "apt-get in the new chroot failed"; }
  printf '%s\n' "$recipe" >"$cache_root.tmp/.cwts-ready"
  mv "$cache_root.tmp" "$cache_root"
fi
cp /etc/resolv.conf "$cache_root/etc/resolv.conf"
# The package lists: refreshed in the cached root when older than a day.
if [[ -z "$(find "$cache_root/.cwts-apt-updated" -mmin -1440 2>/dev/null)" ]]; then
  info "chroot: apt-get update"
  in_root "$cache_root" apt-get update -q >"$work/apt-update.log" 2>&1 \
    || { cat "$work/apt-update.log" >&2; die "apt-get update in the chroot failed"; }
  touch "$cache_root/.cwts-apt-updated"
fi

run_root="$(mktemp -d "$chroot_dir/run.XXXXXX")"
cp -a --reflink=auto "$cache_root/." "$run_root/" || die "cannot copy the chroot"
cp "$deb" "$run_root/tmp/"
pkg="/tmp/$(basename "$deb")"
R() { in_root "$run_root" "$@"; }

info "chroot: apt-get install ./$(basename "$deb")"
R apt-get install -y -q --no-install-recommends "$pkg" >"$work/apt-install.log" 2>&1 \
  || { cat "$work/apt-install.log" >&2; fail "apt-get install of the package in a fresh $codename root"; }
[[ "$(R dpkg-query -W -f='${Status} ${Version}' cwts)" == "install ok installed $version" ]] \
  || fail "dpkg: cwts $version not installed"
ok "apt-get install ./$(basename "$deb") in a fresh $codename root: dependencies resolved"

R id cwts >/dev/null || fail "no cwts user"
R id -nG cwts | grep -q -w cwts-strategy || fail "cwts is not in cwts-strategy"
[[ "$(R getent passwd cwts | cut -d: -f7)" == */nologin ]] || fail "cwts has a login shell"
[[ "$(R stat -c '%a %U:%G' /etc/cwtsd/cwtsd.json)" == "640 root:cwts" ]] \
  || fail "/etc/cwtsd/cwtsd.json: not 0640 root:cwts"
cmp -s "$run_root/etc/cwtsd/cwtsd.json" "$run_root/usr/share/cwts/cwtsd.example.json" \
  || fail "/etc/cwtsd/cwtsd.json is not the example"
ok "postinst: system user cwts (in cwts-strategy), /etc/cwtsd/cwtsd.json 0640 root:cwts"

# The example names /etc/cwtsd/binance.key: the operator's key file, owner-only, the service's user.
printf 'test-key\ntest-secret-0123456789\n' >"$run_root/etc/cwtsd/binance.key"
R chown cwts:cwts /etc/cwtsd/binance.key
R chmod 600 /etc/cwtsd/binance.key
for cfg in /etc/cwtsd/cwtsd.json /usr/share/cwts/cwtsd.example.json; do
  out="$(R runuser -u cwts -- cwtsd --config "$cfg" --check-config 2>&1)" \
    || fail "cwtsd --check-config $cfg as cwts: $out"
  ok "installed cwtsd --check-config $cfg (as cwts): $out"
done
for tool in cwtsctl cwts-sim cwts-replay; do
  R "$tool" --help >/dev/null 2>&1 || fail "installed $tool --help"
done
R cwts-shm-layout >/dev/null || fail "installed cwts-shm-layout"
ok "installed cwtsctl, cwts-sim, cwts-replay, cwts-shm-layout run"

# cwts-sim without --exchange-info: the installed copy (the build tree's is not in the chroot).
port=$((20000 + RANDOM % 20000))
sim_rc=0
sim_out="$(R timeout 3 cwts-sim --listen "127.0.0.1:$port" --synthetic BTCUSDT 2>&1)" || sim_rc=$?
[[ $sim_rc -eq 124 ]] || fail "installed cwts-sim did not keep running (exit $sim_rc): ${sim_out: -2000}"
ok "installed cwts-sim starts on its installed exchange info"

out="$(R systemd-analyze verify /usr/lib/systemd/system/cwtsd.service 2>&1)" \
  || fail "systemd-analyze verify of the installed unit: $out"
[[ "$out" != *cwtsd.service* ]] || fail "systemd-analyze verify warns about the unit: $out"
ok "systemd-analyze verify: the installed unit on the installed system"

R apt-get install -y -q --reinstall "$pkg" >"$work/apt-reinstall.log" 2>&1 \
  || { cat "$work/apt-reinstall.log" >&2; fail "reinstall (postinst run again)"; }
ok "reinstall: the maintainer scripts run again cleanly"

R apt-get remove -y -q cwts >"$work/apt-remove.log" 2>&1 \
  || { cat "$work/apt-remove.log" >&2; fail "apt-get remove cwts"; }
[[ "$(R dpkg-query -W -f='${Status}' cwts)" == "deinstall ok config-files" ]] \
  || fail "after remove: cwts is not in state config-files"
for f in usr/bin/cwtsd usr/lib/systemd/system/cwtsd.service usr/include/cwts usr/share/cwts; do
  [[ ! -e "$run_root/$f" ]] || fail "after remove: /$f is still there"
done
[[ -f "$run_root/etc/cwtsd/cwtsd.json" ]] || fail "remove deleted /etc/cwtsd/cwtsd.json"
ok "apt-get remove: the files are gone, /etc/cwtsd/cwtsd.json kept"

R apt-get purge -y -q cwts >"$work/apt-purge.log" 2>&1 \
  || { cat "$work/apt-purge.log" >&2; fail "apt-get purge cwts"; }
if R dpkg-query -W -f='${Status}' cwts 2>/dev/null | grep -q 'installed\|config-files'; then
  fail "after purge: dpkg still knows cwts"
fi
[[ ! -e "$run_root/etc/cwtsd/cwtsd.json" ]] || fail "after purge: /etc/cwtsd/cwtsd.json is still there"
[[ -f "$run_root/etc/cwtsd/binance.key" ]] || fail "purge deleted the operator's key file"
R dpkg --audit >/dev/null || fail "dpkg --audit"
ok "apt-get purge: /etc/cwtsd/cwtsd.json gone, the operator's key file kept"

printf 'package test: %d checks passed (%s)\n' "$checks" "$(basename "$deb")"
