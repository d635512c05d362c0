#!/usr/bin/env bash
# Runs a benchmark and writes its results into bench/results/. Usage: ./eng/bench.sh storage [options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
dotnet build bench/FinServerless.Benchmarks -c Release --nologo -v quiet -clp:NoSummary
exec dotnet bench/FinServerless.Benchmarks/bin/Release/net10.0/finserverless-bench.dll "$@"
