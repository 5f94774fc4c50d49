#!/usr/bin/env bash
# Set up (see scripts/setup.sh) and run every check: lint, types, and the whole test suite,
# integration tests on real free-threaded builds and the browser test included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
eval "$(scripts/setup.sh all)"
export THREADSTORM_PY313D THREADSTORM_PY314 THREADSTORM_PY314D THREADSTORM_PY314TSAN
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests (exit 5): nothing ran, which counts as a failure here" >&2
  exit 1
fi
exit "$status"
