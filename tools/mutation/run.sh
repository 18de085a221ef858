#!/usr/bin/env bash
# run.sh — mutation testing (tools/mutation/mutate.py) at the lowest CPU priority: installs
# universalmutator into a virtual environment under build/ on first use, then passes its
# arguments on, e.g.
#   tools/mutation/run.sh                                    # every target, 12 mutants each
#   tools/mutation/run.sh --per-file 8 --files engine/io/idx.cpp engine/checkpoint.cpp
# Needs what the CPU build needs (tools/install-deps.sh), python3 with venv, and ccache
# (optional, makes the rebuilds incremental). Not part of CI: a full run of the default sample
# (12 mutants per file) took 17 to 21 minutes on 2 cores; --per-file 30 fits in about an hour.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=build/mutation-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import universalmutator" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "universalmutator==1.14.1"
fi
exec nice -n 19 "$venv/bin/python" tools/mutation/mutate.py "$@"
