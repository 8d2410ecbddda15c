#!/usr/bin/env bash
# Installs what entVoice and its tests need on Debian 12: Debian packages
# (SIP test peers, prompts, sox, the speech engine and TTS) and the Go modules. Go 1.26 itself must be
# on PATH (Debian 12 ships an older Go; install it from go.dev or your
# image). Safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
      export PATH=/usr/local/go/bin:$PATH
    else
      echo "setup: Go 1.26 is required (https://go.dev/doc/install); put it on PATH and run again" >&2
      exit 1
    fi
  fi
}

packages=(sip-tester baresip-core sox libsox-fmt-all espeak-ng
  libasterisk-agi-perl python3-panoramisk
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav
  pkg-config libpocketsphinx-dev pocketsphinx-en-us
  curl       # voicemail: bench/voicemail.sh reads the API with curl
  chromium)  # the WebRTC tests drive Debian's chromium with playwright-core
missing=()
# Node.js may come from elsewhere (nodesource bundles npm); Debian's
# nodejs and npm only when there is no npm at all.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm AMI/AGI clients the tests drive (asterisk-manager, asterisk-ami-client,
# ding-dong) and the WebRTC page's SIP.js and playwright-core, pinned by
# internal/testpeer/npm/package-lock.json.
# playwright-core drives Debian's chromium: no browser download.
(cd internal/testpeer/npm && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

# Debian ships no music on hold: a default class made with sox.
./scripts/moh-default.sh data/moh/default

need_go
go mod download
mkdir -p bin
# The pocketsphinx speech engine is cgo behind the build tag "pocketsphinx"
# (docs/speech.md): it is compiled in whenever its C library is installed,
# which the package list above ensures; `go build` without the tag gives a
# binary that reports the engine as unavailable.
tags=()
if pkg-config --exists pocketsphinx sphinxbase 2>/dev/null; then tags=(-tags pocketsphinx); fi
go build "${tags[@]}" -o bin/entvoice ./cmd/entvoice
echo "setup: built bin/entvoice ($(bin/entvoice version); $(bin/entvoice speech engines | cut -f1,2 | tr '\t' ' '))"
