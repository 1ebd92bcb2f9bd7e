#!/usr/bin/env bash
# Makes sure the web UI's browser tests have a browser: Debian's chromium, driven
# by playwright-core (the project never downloads a browser build of its own).
# Found: nothing to do. Missing: installed with apt-get when this user may
# (root, or password-less sudo); otherwise it says what to run and fails.
#
#   KEYPORT_TEST_CHROMIUM=/path/to/chromium   use that binary instead
set -euo pipefail

browser=${KEYPORT_TEST_CHROMIUM:-/usr/bin/chromium}
if [ -x "$browser" ]; then
  exit 0
fi
if [ -n "${KEYPORT_TEST_CHROMIUM:-}" ]; then
  echo "setup-browser: KEYPORT_TEST_CHROMIUM=$KEYPORT_TEST_CHROMIUM is not an executable file" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "setup-browser: the browser tests need Debian's chromium, and this user cannot install it." >&2
  echo "  Run: sudo apt-get install chromium   (or set KEYPORT_TEST_CHROMIUM to a Chromium binary)" >&2
  exit 1
fi

printf '\n==> [browser] apt-get install chromium (for the web UI browser tests; once)\n'
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium
[ -x "$browser" ] || { echo "setup-browser: chromium was installed but $browser is missing" >&2; exit 1; }
