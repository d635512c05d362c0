#!/usr/bin/env bash
# Quick-start command one: the end-to-end demo on the real sample partner file, through the dev host.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/eng/setup.sh"
cd "$ROOT"
echo "==> building the function app, the trainer and the dev host"
for project in functions/FinServerless.Functions training-container/src/FinServerless.Trainer functions/FinServerless.DevHost; do
  dotnet build "$project" -c Release --nologo -v quiet -clp:NoSummary
done
exec dotnet functions/FinServerless.DevHost/bin/Release/net10.0/finserverless-devhost.dll demo "$@"
