#!/usr/bin/env bash
# Quick-start command two: the whole test suite (unit, integration against a real Azurite, real engines).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
exec dotnet test FinServerless.sln -c Release --nologo "$@"
