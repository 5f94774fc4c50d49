#!/usr/bin/env bash
# Set up everything threadstorm needs on a fresh Debian machine (run as root, or with sudo):
# system packages, the controller's virtual environment, and the free-threaded target
# interpreters built from the CPython sources in ../shared/cpython (cached after the first build).
#
#   scripts/setup.sh [all|313d]     all: 3.13 debug, 3.14 release, debug and tsan (default: all)
#
# Prints nothing on stdout but `export` lines for the targets it built, so callers can
# `eval "$(scripts/setup.sh)"`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sources="${THREADSTORM_SOURCES:-$root/../shared/cpython}"
which_targets="${1:-all}"
log() { printf '%s\n' "$*" >&2; }

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(build-essential pkg-config libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
  libsqlite3-dev libreadline-dev uuid-dev libncurses-dev libgdbm-dev xz-utils libzstd-dev
  ccache gdb python3-venv chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # apt's own output goes to a log file; the terminal gets one line per step
  apt_log="${THREADSTORM_APT_LOG:-${TMPDIR:-/tmp}/threadstorm-apt.log}"
  log "installing ${#missing[@]} system package(s) (apt output in $apt_log): ${missing[*]}"
  if ! { sudo_if_needed apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq \
           --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    log "apt failed; the last lines of $apt_log:"
    tail -n 20 "$apt_log" >&2
    exit 1
  fi
  log "system packages installed"
fi

python_for_venv="${THREADSTORM_CONTROLLER_PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/threadstorm" ]; then
  log "creating the controller environment in .venv"
  "$python_for_venv" -m venv "$root/.venv" >&2
  "$root/.venv/bin/pip" install -q --upgrade pip >&2
fi
"$root/.venv/bin/pip" install -q -e "$root[dev]" >&2

build() {  # build VAR TARBALL FLAVOUR
  local path
  path="$("$root/.venv/bin/threadstorm" build-python --source "$sources/$2" --flavour "$3" | tail -n 1)"
  log "target $1=$path"
  printf 'export %s=%q\n' "$1" "$path"
}
build THREADSTORM_PY313D python3.13_3.13.5.orig.tar.xz debug
if [ "$which_targets" = all ]; then
  build THREADSTORM_PY314 python3.14_3.14.7.orig.tar.xz release
  build THREADSTORM_PY314D python3.14_3.14.7.orig.tar.xz debug
  build THREADSTORM_PY314TSAN python3.14_3.14.7.orig.tar.xz tsan
fi
