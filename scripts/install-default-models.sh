#!/usr/bin/env bash
# Installs the zero-download default models into the models dir (default
# data/models) so `make run` has voice activity detection on a fresh box:
#   silero-vad-v5 — Silero VAD v5, taken from the npm registry package
#   @ricky0123/vad-web@0.0.31 (dist/silero_vad_v5.onnx is byte-identical to
#   the upstream file pinned in Izwi's catalogue). `izwi models import`
#   verifies it against the pinned SHA-256; nothing is trusted on the way.
# Idempotent: does nothing when the model already verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
IZWI=${IZWI:-bin/izwi}
DIR=${IZWI_MODELS_DIR:-data/models}

if "$IZWI" models verify silero-vad-v5 --dir "$DIR" >/dev/null 2>&1; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-default-models: npm not found; VAD stays off (izwi models pull silero-vad-v5 when online)" >&2; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @ricky0123/vad-web@0.0.31 >/dev/null)
mkdir -p "$work/silero-vad-v5"
tar -xzf "$work"/ricky0123-vad-web-0.0.31.tgz -C "$work" package/dist/silero_vad_v5.onnx
mv "$work/package/dist/silero_vad_v5.onnx" "$work/silero-vad-v5/silero_vad.onnx"
"$IZWI" models import "$work/silero-vad-v5" silero-vad-v5 --dir "$DIR"
