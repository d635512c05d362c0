#!/usr/bin/env bash
# Quick-start command one: the end-to-end demo on the real sample partner file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
dotnet build functions/FinServerless.DevHost -c Release --nologo -v quiet -clp:NoSummary
exec dotnet functions/FinServerless.DevHost/bin/Release/net10.0/finserverless-devhost.dll demo "$@"
