#!/usr/bin/env bash
# Prints the path of a working Python 3.10 (TFX 1.16 supports 3.9-3.10 only), or explains how to get one.
set -u
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
if command -v pyenv >/dev/null 2>&1; then
  # pyenv's shim fails when 3.10 is installed but not selected, so ask pyenv for the real path.
  latest=$(pyenv latest 3.10 2>/dev/null) && candidates+=("$(pyenv prefix "$latest" 2>/dev/null)/bin/python3.10")
fi
candidates+=(python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
for candidate in "${candidates[@]}"; do
  if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
cat >&2 <<'MSG'
error: Python 3.10 not found (TFX 1.16 runs on Python 3.9-3.10 only).
  Get it with one of:
    pyenv install 3.10          (then re-run; pyenv need not make it the global version)
    apt-get install python3.10 python3.10-venv   (where your distribution ships it)
    conda create -n py310 python=3.10            (then set PYTHON310=<env>/bin/python)
  Or point PYTHON310 at an existing Python 3.10 interpreter.
MSG
exit 1
