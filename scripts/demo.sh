#!/usr/bin/env bash
# Set up (see scripts/setup.sh) and run the main job: a short campaign on the default target
# (CPython 3.13.5 free-threaded debug, built from ../shared/cpython), then its reports.
#
#   scripts/demo.sh [BUDGET_SECONDS]      (default 90)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
eval "$(scripts/setup.sh 313d)"
out="threadstorm-out/demo-$(date +%Y%m%d-%H%M%S)"
.venv/bin/threadstorm fuzz --python "$THREADSTORM_PY313D" --modules builtins,types,typing,collections \
  --budget "${1:-90}" --out "$out"
.venv/bin/threadstorm report "$out" --format text
.venv/bin/threadstorm report "$out" --format markdown --out "$out/report.md"
.venv/bin/threadstorm report "$out" --format html --out "$out/report.html"
echo "reports: $out/report.md and $out/report.html"
