# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo and .ci/run. Source it; don't run it.
#
# The functions do their own error handling (explicit `|| return`/`|| die`), so they behave the
# same whether or not the caller has `set -e` and whether or not they are called in an `if`/`||`
# context (where bash switches errexit off).

if [[ -n "${CWTS_LIB_SOURCED:-}" ]]; then
  return 0
fi
CWTS_LIB_SOURCED=1

CWTS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# Debian packages the build, the tests and the tooling need (util-linux: setarch, for tsan).
# python3-venv: `python3 -m venv` on Debian's own python3 needs it (ensurepip). systemd:
# systemd-analyze, which checks the shipped unit (tests/python/test_deployment.py). iproute2 and
# openssl: the remote strategy in its own network namespace over TLS (tests/python/test_remote.py).
CWTS_SYSTEM_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost-all-dev libsimdjson-dev libspdlog-dev libssl-dev
  libgtest-dev libbenchmark-dev libsystemd-dev zlib1g-dev
  clang-format clang-tidy util-linux python3-venv
  clang libclang-rt-14-dev ccache systemd iproute2 openssl
  # The binaries' command lines (ADR 0028): header-only, find_package(CLI11 CONFIG).
  libcli11-dev
  # tests/python/test_observability.py: promtool (check/test the alert rules, lint a live scrape)
  # comes only with Debian's prometheus server package (~100 MB with its web assets; installed
  # with --no-install-recommends it pulls no exporter). On a host booted with systemd it enables
  # and starts prometheus.service on :9090: `systemctl disable --now prometheus` if unwanted. jq
  # runs the log queries docs/logging.md documents.
  prometheus jq
  # tests/packaging/test_package.sh (scripts/test --package): the throwaway chroot the .deb is
  # installed into. cpack's dpkg-shlibdeps comes with build-essential (dpkg-dev).
  debootstrap
)

CWTS_MIN_PYTHON="3.11"

# ---------------------------------------------------------------------------------------------
# basics

cwts_root() {
  printf '%s\n' "$CWTS_ROOT"
}

info() {
  printf '==> %s\n' "$*" >&2
}

warn() {
  printf 'warning: %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, else through sudo.
_cwts_as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' and sudo is not installed"
  fi
}

# ---------------------------------------------------------------------------------------------
# system packages

ensure_system_deps() {
  _cwts_apt_ensure "system packages" "${CWTS_SYSTEM_PACKAGES[@]}"
}

# The containers stage's Docker engine (scripts/containers): only that stage needs it. On a host
# booted with systemd, installing docker.io enables and starts docker.service (with its iptables
# rules: FORWARD policy DROP); `systemctl disable --now docker.service docker.socket` if unwanted.
# scripts/containers stops only a dockerd it started itself.
CWTS_CONTAINER_PACKAGES=(docker.io docker-compose)
ensure_container_deps() {
  _cwts_apt_ensure "container packages" "${CWTS_CONTAINER_PACKAGES[@]}"
}

# Installs with apt-get those of the packages $2... that are missing ($1 names them in messages).
_cwts_apt_ensure() {
  local what="$1"
  shift
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    warn "not a Debian-like system: install these yourself: $*"
    return 0
  fi

  local pkg status missing=()
  for pkg in "$@"; do
    # Multi-Arch packages print one status per installed architecture, hence the glob.
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != *"install ok installed"* ]]; then
      missing+=("$pkg")
    fi
  done

  if [[ ${#missing[@]} -eq 0 ]]; then
    info "$what: all $# present"
    return 0
  fi

  info "$what: installing ${missing[*]}"
  _cwts_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    || die "apt-get update failed"
  _cwts_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

# ---------------------------------------------------------------------------------------------
# Python virtualenv

# Succeeds when the interpreter $1 runs and is at least CWTS_MIN_PYTHON.
_cwts_python_ok() {
  "$1" -c '
import sys
want = tuple(int(x) for x in sys.argv[1].split("."))
sys.exit(0 if sys.version_info[:len(want)] >= want else 1)
' "$CWTS_MIN_PYTHON" >/dev/null 2>&1
}

# Prints the interpreter to build the venv with: python3.11 if it works, else python3.
_cwts_find_python() {
  local candidate path version seen=()
  for candidate in python3.11 python3; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if _cwts_python_ok "$path"; then
      printf '%s\n' "$path"
      return 0
    fi
    version="$("$path" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null \
      || echo 'does not run')"
    seen+=("$candidate ($version)")
  done
  die "Python >= $CWTS_MIN_PYTHON is required (looked for python3.11, then python3; found:" \
    "${seen[*]:-none}). On Debian: apt-get install python3 python3-venv (bookworm ships 3.11)."
}

# Creates .venv (if missing or broken) and installs scripts/requirements-test.txt into it
# unless the requirements file is unchanged since the last successful install.
ensure_venv() {
  local venv="$CWTS_ROOT/.venv"
  local req="$CWTS_ROOT/scripts/requirements-test.txt"
  local stamp="$venv/.cwts-requirements.sha256"
  local python want have

  [[ -f "$req" ]] || die "missing $req"

  if [[ -x "$venv/bin/python" ]] && _cwts_python_ok "$venv/bin/python"; then
    :
  else
    python="$(_cwts_find_python)" || exit 1
    if [[ -e "$venv" ]]; then
      info "venv: $venv is broken or too old; recreating it"
      rm -rf "$venv" || die "cannot remove $venv"
    fi
    info "venv: creating .venv with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$venv" \
      || die "'$python -m venv' failed (on Debian, install python3-venv)"
  fi

  want="$(sha256sum "$req" | cut -d' ' -f1)" || die "cannot hash $req"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [[ "$want" == "$have" ]]; then
    info "venv: requirements up to date"
    return 0
  fi

  info "venv: installing scripts/requirements-test.txt"
  PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" \
    || die "pip install -r scripts/requirements-test.txt failed"
  printf '%s\n' "$want" >"$stamp" || die "cannot write $stamp"
}

# Builds and installs python_bridge/ (cwts_bridge) into .venv when its sources changed.
ensure_bridge() {
  local venv="$CWTS_ROOT/.venv" stamp="$CWTS_ROOT/.venv/.cwts-bridge-stamp" want have
  want="$(cd "$CWTS_ROOT" && find python_bridge/src python_bridge/cwts_bridge python_bridge/CMakeLists.txt \
            python_bridge/pyproject.toml libs/shm libs/ta libs/concurrent libs/core libs/log \
            libs/shm_layout \
            -type f -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)" \
    || die "cannot hash the bridge sources"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [[ "$want" == "$have" ]] && "$venv/bin/python" -c 'import cwts_bridge' 2>/dev/null; then
    info "bridge: cwts_bridge up to date"
    return 0
  fi
  info "bridge: building and installing python_bridge (pip install ./python_bridge)"
  PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-build-isolation \
    "$CWTS_ROOT/python_bridge" || die "pip install ./python_bridge failed"
  printf '%s\n' "$want" >"$stamp" || die "cannot write $stamp"
}

# ---------------------------------------------------------------------------------------------
# CMake presets (CMakePresets.json: dev, release, asan, tsan; binaryDir build/<preset>)

# Configures (first time only: afterwards ninja re-runs cmake itself when needed) and builds.
# build_preset NAME [TARGET...]: configure once, then build (only TARGETs if given).
build_preset() {
  local preset="${1:?build_preset: preset name required}"
  shift
  local targets=()
  if [[ $# -gt 0 ]]; then
    targets=(--target "$@")
  fi
  (
    cd "$CWTS_ROOT" || exit 1
    if [[ ! -f "build/$preset/build.ninja" ]]; then
      info "configure: cmake --preset $preset"
      cmake --preset "$preset" || exit 1
    fi
    info "build: cmake --build --preset $preset"
    cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}" || exit 1
  )
}

# Runs the preset's tests (the presets' label filters decide which). Exit status is ctest's.
test_preset() {
  local preset="${1:?test_preset: preset name required}"
  (
    cd "$CWTS_ROOT" || exit 1
    local -a runner=()
    case "$preset" in
      asan)
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
        ;;
      tsan)
        export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
        # gcc-12's TSan dies with "unexpected memory mapping" when the kernel randomises mmap
        # with many bits (vm.mmap_rnd_bits > 28); run with ASLR off, inherited by the tests.
        runner=(setarch "$(uname -m)" -R)
        ;;
    esac
    info "test: ctest --preset $preset"
    "${runner[@]}" ctest --preset "$preset" -j 2 --timeout 600
  )
}

# ---------------------------------------------------------------------------------------------
# result parsing (stdin: a runner's output; stdout: "PASSED FAILED", "0 0" when no summary)

# ctest: "100% tests passed, 0 tests failed out of 23"
cwts_ctest_counts() {
  local line failed total
  line="$(sed -nE 's/.*[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' \
    | tail -n 1)"
  if [[ -z "$line" ]]; then
    echo "0 0"
    return 0
  fi
  read -r failed total <<<"$line"
  echo "$((total - failed)) $failed"
}

# pytest: "===== 3 passed, 1 failed, 2 skipped in 0.12s =====" (errors count as failed)
cwts_pytest_counts() {
  local line passed=0 failed=0 errors=0 re_p='([0-9]+) passed' re_f='([0-9]+) failed'
  local re_e='([0-9]+) errors?'
  line="$(grep -E '(([0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed))|no tests ran).* in [0-9.]+s' \
    | tail -n 1 || true)"
  [[ "$line" =~ $re_p ]] && passed="${BASH_REMATCH[1]}"
  [[ "$line" =~ $re_f ]] && failed="${BASH_REMATCH[1]}"
  [[ "$line" =~ $re_e ]] && errors="${BASH_REMATCH[1]}"
  echo "$passed $((failed + errors))"
}
