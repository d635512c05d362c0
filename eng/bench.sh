#!/usr/bin/env bash
# Runs a benchmark and writes its results into bench/results/. Usage: ./eng/bench.sh storage|ingest|score|durable|train|train-memory [options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
# The Python baselines use Debian's packages (the system python3, not a pyenv or venv one).
need_py=""
case "${1:-}" in
  ingest) /usr/bin/python3 -c "import pandas" 2>/dev/null || need_py="python3-pandas" ;;
  score) /usr/bin/python3 -c "import pandas, xgboost" 2>/dev/null || need_py="python3-pandas python3-xgboost" ;;
  train) /usr/bin/python3 -c "import xgboost, sklearn, torch" 2>/dev/null || need_py="python3-xgboost python3-sklearn python3-torch"
         # One BLAS thread on both sides of the MLP comparison (the fastest setting here for this network size).
         export OPENBLAS_NUM_THREADS=1 ;;
esac
if [ -n "$need_py" ]; then
  echo "==> installing Debian's $need_py for the Python side of the benchmark"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_py >/dev/null \
    || { echo "could not install $need_py; run: $SUDO apt-get install $need_py" >&2; exit 1; }
fi
dotnet build bench/FinServerless.Benchmarks -c Release --nologo -v quiet -clp:NoSummary
dotnet build tools/FinServerless.Cli -c Release --nologo -v quiet -clp:NoSummary
exec dotnet bench/FinServerless.Benchmarks/bin/Release/net10.0/finserverless-bench.dll "$@"
