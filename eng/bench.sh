#!/usr/bin/env bash
# Runs a benchmark and writes its results into bench/results/. Usage: ./eng/bench.sh storage|ingest [options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
if [ "${1:-}" = "ingest" ] && ! /usr/bin/python3 -c "import pandas" 2>/dev/null; then
  echo "==> installing Debian's python3-pandas for the pandas side of the benchmark"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pandas >/dev/null \
    || { echo "could not install python3-pandas; run: $SUDO apt-get install python3-pandas" >&2; exit 1; }
fi
dotnet build bench/FinServerless.Benchmarks -c Release --nologo -v quiet -clp:NoSummary
dotnet build tools/FinServerless.Cli -c Release --nologo -v quiet -clp:NoSummary
exec dotnet bench/FinServerless.Benchmarks/bin/Release/net10.0/finserverless-bench.dll "$@"
