#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs requirements.lock plus this project (editable).
set -euo pipefail
venv=${1:-.venv}
python=$(scripts/find-python310.sh)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
  rm -rf "$venv"
  echo "creating $venv with $python"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "pip==24.3.1" "setuptools==80.9.0" "wheel==0.45.1"
echo "installing the pinned dependencies (requirements.lock): a fresh install takes a few minutes"
# The lock is complete, so no resolution is needed (and pip's resolver backtracks badly on this set).
# (grep drops pip's notes about index folders some machines configure but do not fill)
"$venv/bin/python" -m pip install --quiet --no-deps -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
log="$venv/.install-project.log"  # setuptools' editable-install notes are noise unless it fails
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e . >"$log" 2>&1 || { cat "$log"; exit 1; }
"$venv/bin/python" -m pip check
# The inspection tools start: TensorBoard needs pkg_resources (hence setuptools < 81 in the lock).
"$venv/bin/tensorboard" --version >/dev/null 2>&1 || { echo "setup: .venv/bin/tensorboard does not start:" >&2; "$venv/bin/tensorboard" --version; exit 1; }
