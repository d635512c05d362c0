#!/usr/bin/env bash
# Publishes the function app for Azure: a self-contained linux-x64 handler (no .NET on the host needed); the
# Microsoft.ML.OnnxRuntime package puts its linux-x64 libonnxruntime.so beside it (no other platforms, thanks to
# the runtime identifier), with host.json and every function.json.
# Output: artifacts/functions (what azure.yaml deploys).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/eng/setup.sh" >/dev/null
OUT="$ROOT/artifacts/functions"
rm -rf "$OUT"
dotnet publish functions/FinServerless.Functions -c Release -r linux-x64 --self-contained true -o "$OUT" --nologo -v quiet
test -f "$OUT/libonnxruntime.so" && test -f "$OUT/host.json" && test -x "$OUT/FinServerless.Functions"
echo "published $(find "$OUT" -name function.json | wc -l) functions to $OUT"
