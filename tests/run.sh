#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian machine, then run the whole suite.
# Debian packages come from .ci/debian-packages.txt (real servers and clients the tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v '^\s*#' .ci/debian-packages.txt | sed '/^\s*$/d')
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# pytest exits 5 when it collected nothing: with `set -e` that fails the run too.
# Two test processes (this machine's two cores; most tests wait on served hubs), each file in one of them so
# that a module's served hub is started once (--dist loadfile).
python3 -m pytest -q --durations=15 -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
