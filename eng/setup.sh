#!/usr/bin/env bash
# Installs what FinServerless needs, skipping whatever is already there. Safe to run again and again.
#   Debian packages : libxgboost0 libxgboost-dev libtorch-dev g++ libopenblas0-pthread (nodejs npm if absent)
#   npm (eng/)      : azurite, the JS storage SDK (benchmark), tree-sitter-bicep, pinned by eng/package-lock.json
#   libtorch shim   : training-container/native/build.sh (g++ against libtorch-dev, rebuilt only when changed)
#   .NET            : dotnet restore of FinServerless.sln
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say()  { printf '==> %s\n' "$*"; }
fail() { printf '\nsetup failed: %s\n  run by hand: %s\n' "$1" "$2" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not installed" "su -c 'apt-get install sudo' (or run this script as root)"
  SUDO="sudo"
fi

# --- Debian packages -------------------------------------------------------------------------
DEB_PACKAGES=(libxgboost0 libxgboost-dev libtorch-dev g++ libopenblas0-pthread)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm  >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
  say "Debian packages: all present, skipped"
else
  say "Debian packages: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || fail "apt-get update failed" "$SUDO apt-get update"
  for pkg in "${missing[@]}"; do
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
      || fail "could not install Debian package '$pkg'" "$SUDO apt-get install $pkg"
  done
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  printf 'warning: Node.js %s is older than 20; Azurite 3.37 is tested here on Node 20 and asks for 22.\n' "$(node --version)" >&2
fi

# --- .NET SDK --------------------------------------------------------------------------------
command -v dotnet >/dev/null 2>&1 \
  || fail "the .NET 10 SDK is not installed (it is not in Debian's archive)" \
          "install dotnet-sdk-10.0 from Microsoft's package feed, see https://learn.microsoft.com/dotnet/core/install/linux-debian"

# --- npm packages (Azurite and test tooling; ONNX Runtime comes from NuGet) -----------------
AZURITE_JS="eng/node_modules/azurite/dist/src/azurite.js"
MARKER="eng/node_modules/.finserverless-lock.sha256"
lock_hash="$(sha256sum eng/package-lock.json | cut -d' ' -f1)"
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$lock_hash" ] && [ -f "$AZURITE_JS" ]; then
  say "npm packages: up to date with eng/package-lock.json, skipped"
else
  say "npm packages: installing azurite and the test tooling from eng/package-lock.json"
  (cd eng && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
    || fail "npm ci failed in eng/" "cd eng && npm ci --ignore-scripts"
  echo "$lock_hash" > "$MARKER"
fi

# --- libtorch shim (training-container/native) --------------------------------------------
training-container/native/build.sh \
  || fail "the libtorch shim did not compile" "training-container/native/build.sh"

# --- .NET restore (a no-op when nothing changed) ---------------------------------------------
say "dotnet restore"
dotnet restore FinServerless.sln --nologo -v quiet \
  || fail "dotnet restore failed" "dotnet restore FinServerless.sln -v normal"

say "setup complete"
