#!/usr/bin/env bash
# Installs what Izwi needs to build, run and test, and nothing that is
# already there. Safe to run again. Used by `make run`, `make test` and CI.
#   Debian packages: the zero-download engines (PocketSphinx, Flite), their
#   headers for cgo, libopus (WebRTC audio, internal/codec/opus), Debian's python3-onnx for the test-model generator,
#   sox for audio checks, ffmpeg (the sandboxed decoder of Opus and AAC
#   uploads and encoder of MP3/Opus/AAC speech, docs/codecs.md), Chromium for browser tests (driven by
#   playwright-core from npm, installed into web/e2e), alsa-utils for the
#   ALSA capture source, swtpm for the vault's TPM tests, poppler-utils
#   (pdftotext) for prepared texts given as PDF, postgresql (the store's
#   second dialect; internal/store/pgtest starts a private server per test
#   package), and curl and jq, which the
#   documented commands use (cmd/izwi/docs_commands_test.go runs every one);
#   for `make dist` and its tests patchelf (RUNPATH $ORIGIN), debootstrap
#   (the clean Debian 12 root), minisign (cross-checks our signatures),
#   groff-base (man page lint) and systemd (systemd-analyze security).
#   Go modules: everything pinned in go.sum.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config
  pocketsphinx pocketsphinx-en-us libpocketsphinx-dev libsphinxbase-dev
  flite flite1-dev libopus-dev
  python3-onnx python3-numpy espeak-ng-data
  sox libsox-fmt-mp3 ffmpeg bzip2 poppler-utils curl jq
  chromium alsa-utils swtpm swtpm-tools
  patchelf debootstrap minisign groff-base systemd
  postgresql
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser tests drive Debian's Chromium with playwright-core (no browser
# download: executablePath is /usr/bin/chromium), pinned in web/e2e, and
# check the pages' accessibility with axe-core.
if [ -f web/e2e/package-lock.json ] && { [ ! -d web/e2e/node_modules/playwright-core ] || [ ! -d web/e2e/node_modules/axe-core ]; }; then
  command -v npm >/dev/null || { echo "setup: npm is required for the browser tests" >&2; exit 1; }
  echo "setup: installing web/e2e npm packages"
  (cd web/e2e && npm ci --no-audit --no-fund --silent)
fi

command -v go >/dev/null || { echo "setup: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
go mod download
echo "setup: ok"
