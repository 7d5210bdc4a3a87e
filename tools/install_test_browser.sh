#!/usr/bin/env bash
# The browser that tests/test_view.py drives: Debian's Chromium, installed with apt-get when missing.
# Part of the README test command (and so of .ci/run). Does nothing when a Chromium is already there
# (on PATH as chromium / chromium-browser, or named by DIFFMESH_CHROMIUM).
set -euo pipefail

if [ -n "${DIFFMESH_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_test_browser: no Chromium and no apt-get here: install Chromium with your package manager," \
       "or set DIFFMESH_CHROMIUM to a Chromium/Chrome executable (tests/test_view.py needs one)" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_test_browser: installing Chromium needs root: run 'apt-get install chromium' as root" >&2
    exit 1
  fi
  as_root=(sudo)
fi
echo "install_test_browser: installing Debian's chromium for the viewer tests (tests/test_view.py)" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "install_test_browser: $(chromium --version 2>/dev/null)" >&2
