#!/bin/sh
# Install what the benchmark needs (wrk, vicidid with its MariaDB driver), then run it.
set -eu
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
python3 -m venv .venv
.venv/bin/pip install --quiet -e '.[mysql]'
scripts/install-fast-driver
exec .venv/bin/python -m bench.run "$@"
