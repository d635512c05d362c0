#!/usr/bin/env bash
# Builds libfinserverless_torch.so against the libtorch it finds: TORCH_DIR (a libtorch or a PyTorch
# installation's torch/ folder) if set, else Debian's libtorch-dev. Rebuilds only when the source or the
# build line changed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/build/libfinserverless_torch.so"
mkdir -p "$HERE/build"
if [ -n "${TORCH_DIR:-}" ]; then
  INCLUDES=(-I"$TORCH_DIR/include" -I"$TORCH_DIR/include/torch/csrc/api/include")
  LIBS=(-L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib")
  ABI="$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)"
else
  INCLUDES=(-I/usr/include -I/usr/include/torch/csrc/api/include)
  LIBS=()
  ABI=1
fi
if [ -n "${TORCH_DIR:-}" ] && [ -f "$TORCH_DIR/lib/libtorch_cuda.so" ]; then LIBS+=(-Wl,--no-as-needed -ltorch_cuda -lc10_cuda); fi
CMD=(g++ -O2 -std=c++17 -fPIC -shared -D_GLIBCXX_USE_CXX11_ABI="$ABI" "${INCLUDES[@]}" "$HERE/finserverless_torch.cpp"
     -o "$OUT" "${LIBS[@]}" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10)
STAMP="$HERE/build/.stamp"
want="$( (sha256sum "$HERE/finserverless_torch.cpp" | cut -d' ' -f1; echo "${CMD[*]}") | sha256sum | cut -d' ' -f1)"
if [ -f "$OUT" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "libtorch shim: up to date, skipped"
  exit 0
fi
echo "libtorch shim: compiling (about 30 s)"
"${CMD[@]}"
echo "$want" > "$STAMP"
