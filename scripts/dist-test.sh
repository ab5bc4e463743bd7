#!/usr/bin/env bash
# scripts/dist-test.sh — `make dist-test`: the release artifacts in dist/
# work on a clean Debian 12 (bookworm) that has never seen a Go toolchain.
#
#  1. The .deb is installed with apt into a fresh debootstrap'd root
#     (its Depends: come from the Debian mirror); the izwi user, config,
#     unit, man pages and completions are there; `izwi transcribe` works as
#     the izwi user, and `izwi serve` answers /healthz and /readyz with the
#     sherpa-onnx Silero VAD loaded — under PR_SET_MDWE, the kernel's
#     memory-deny-write-execute (the unit's MemoryDenyWriteExecute=yes).
#  2. The tarball, copied into another fresh root holding only the
#     documented runtime packages, runs from an arbitrary directory.
#  3. Every artifact verifies with `izwi verify`, and a tampered copy fails.
#  4. The systemd unit's exposure is <= 2.0 (systemd-analyze --offline).
#
# debootstrap runs once: the minbase root is cached as a tarball under
# $IZWI_DIST_CACHE (default ${TMPDIR:-/tmp}/izwi-dist-cache); each run
# unpacks fresh copies. Needs root (chroot, mounts) and the Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DIST_DIR:-dist}
CACHE=${IZWI_DIST_CACHE:-${TMPDIR:-/tmp}/izwi-dist-cache}
TESTDATA=${IZWI_TESTDATA:-../shared/testdata}
MODELS=${IZWI_MODELS:-../shared/models}
WAV="$TESTDATA/librispeech-test-clean-1089/LibriSpeech/test-clean/1089/134686/1089-134686-0001.wav"
[ "$(id -u)" -eq 0 ] || { echo "dist-test: needs root (debootstrap, chroot)" >&2; exit 1; }
for f in "$WAV" "$MODELS/silero-vad-v5/silero_vad.onnx"; do
  [ -f "$f" ] || { echo "dist-test: missing test data $f" >&2; exit 1; }
done
mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
  awk '{print $2}' | grep -v security | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

deb=$(ls "$OUT"/izwi_*_amd64.deb | head -1)
tarball=$(ls "$OUT"/izwi_*_linux_amd64.tar.gz | head -1)
work=$(mktemp -d "${TMPDIR:-/tmp}/izwi-dist-test.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/izwi-dist" ./cmd/izwi-dist
CGO_ENABLED=0 go build -o "$work/sandbox-exec" ./cmd/izwi-dist

# The cached pristine root.
base="$CACHE/bookworm-minbase.tar"
if [ ! -f "$base" ]; then
  echo "dist-test: debootstrap bookworm (once; cached in $base) from $mirror"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase bookworm "$work/boot" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  tar -C "$work/boot" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$work/boot"
fi
fresh() { # fresh NAME: a new root from the cached tarball
  mkdir -p "$work/$1" && tar -C "$work/$1" -xf "$base"
  cp /etc/resolv.conf "$work/$1/etc/resolv.conf"
  echo "$work/$1"
}
# inroot ROOT CMD: run CMD (sh) in ROOT with its own mount and pid
# namespaces, so /proc, /dev and /tmp go away with it.
inroot() {
  local root=$1; shift
  unshare --mount --pid --fork --kill-child sh -c '
    root=$1; shift
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && mount -t tmpfs tmpfs "$root/tmp"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -ec "$1"' - "$root" "$*"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_http URL: poll for up to 90 s.
wait_http() {
  local deadline=$((SECONDS + 90))
  until curl -fsS --max-time 2 "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

echo "== 1. the .deb in a fresh Debian 12 root"
R1=$(fresh deb)
cp "$deb" "$R1/root/izwi.deb"
inroot "$R1" 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /root/izwi.deb >/dev/null'
inroot "$R1" '
  getent passwd izwi >/dev/null
  test "$(stat -c %U:%a /var/lib/izwi)" = izwi:750
  test "$(stat -c %U:%G:%a /etc/izwi/izwi.toml)" = root:izwi:640
  test -f /lib/systemd/system/izwi.service
  test -f /usr/share/man/man1/izwi-transcribe.1.gz
  test -f /usr/share/bash-completion/completions/izwi
  test -f /usr/lib/izwi/libonnxruntime.so
  izwi --version | grep -q "^izwi "'
cp "$WAV" "$R1/var/lib/izwi/clip.wav"
mkdir -p "$R1/var/lib/izwi/models"
cp -r "$MODELS/silero-vad-v5" "$R1/var/lib/izwi/models/"
cp "$work/sandbox-exec" "$R1/usr/local/bin/izwi-sandbox-exec"
inroot "$R1" 'chown -R izwi:izwi /var/lib/izwi'
uid=$(awk -F: '$1=="izwi"{print $3}' "$R1/etc/passwd"); gid=$(awk -F: '$1=="izwi"{print $4}' "$R1/etc/passwd")
run_as_izwi="izwi-sandbox-exec sandbox-exec -uid $uid -gid $gid -mdwe --"
text=$(inroot "$R1" "cd /var/lib/izwi && $run_as_izwi izwi transcribe --config /etc/izwi/izwi.toml /var/lib/izwi/clip.wav")
echo "transcribe (pocketsphinx, as izwi, MDWE): $text"
echo "$text" | grep -qi "belly" || { echo "dist-test: unexpected transcript" >&2; exit 1; }
port=$(free_port); admin=$(free_port)
inroot "$R1" "cd /var/lib/izwi && IZWI_LISTEN=127.0.0.1:$port IZWI_ADMIN_LISTEN=127.0.0.1:$admin IZWI_VAD_REQUIRED=true \
  exec $run_as_izwi izwi serve --config /etc/izwi/izwi.toml" >"$work/serve.log" 2>&1 &
pids+=($!)
if ! wait_http "http://127.0.0.1:$port/healthz"; then
  cat "$work/serve.log" >&2; echo "dist-test: izwi serve never answered /healthz" >&2; exit 1
fi
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"status":"ready"' ||
  { cat "$work/serve.log" >&2; echo "dist-test: /readyz is not ready" >&2; exit 1; }
grep -q silero "$work/serve.log" || { cat "$work/serve.log" >&2; echo "dist-test: the Silero VAD (sherpa-onnx) was not loaded" >&2; exit 1; }
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
echo "serve (as izwi, MDWE, sherpa-onnx VAD required): /healthz and /readyz OK"
inroot "$R1" 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq izwi >/dev/null && ! getent passwd izwi >/dev/null && test -d /var/lib/izwi'
echo "purge: user removed, /var/lib/izwi kept"

echo "== 2. the tarball in another fresh root with only the runtime packages"
R2=$(fresh tarball)
inroot "$R2" 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpocketsphinx3 libsphinxbase3 libflite1 pocketsphinx-en-us >/dev/null'
mkdir -p "$R2/srv/somewhere/else"
tar -C "$R2/srv/somewhere/else" -xzf "$tarball"
cp "$WAV" "$R2/srv/clip.wav"
text=$(inroot "$R2" 'cd /srv && /srv/somewhere/else/izwi-*/bin/izwi version >/dev/null && /srv/somewhere/else/izwi-*/bin/izwi transcribe clip.wav')
echo "tarball transcribe: $text"
echo "$text" | grep -qi "belly" || { echo "dist-test: unexpected transcript from the tarball" >&2; exit 1; }

echo "== 3. signatures"
pub=()
[ -f "$OUT/izwi-ephemeral.pub" ] && pub=(--pubkey "$OUT/izwi-ephemeral.pub")
B=$(ls -d "$R2"/srv/somewhere/else/izwi-*/bin/izwi)
for a in "$OUT"/izwi_*.tar.gz "$OUT"/izwi_*.deb "$OUT"/izwi_*.cdx.json "$OUT"/izwi_*_oci.tar "$OUT"/SHA256SUMS; do
  LD_LIBRARY_PATH= "$B" verify "${pub[@]}" "$a" >/dev/null
done
cp "$OUT"/izwi_*.cdx.json "$work/sbom.json"; cp "$OUT"/izwi_*.cdx.json.minisig "$work/sbom.json.minisig"
printf ' ' >> "$work/sbom.json"
set +e; "$B" verify "${pub[@]}" "$work/sbom.json" 2>/dev/null; rc=$?; set -e
[ "$rc" -eq 5 ] || { echo "dist-test: a tampered SBOM verified (exit $rc)" >&2; exit 1; }
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS)
echo "izwi verify: every artifact good, a tampered one exit 5"

echo "== 4. systemd unit exposure"
systemd-analyze security --offline=yes --threshold=20 packaging/izwi.service | tail -1

echo "== 5. the OCI image, unpacked and run as its runtimes would: read-only root, UID 65532"
"$work/izwi-dist" oci-check -unpack "$work/image" "$OUT"/izwi_*_oci.tar
cp "$WAV" "$work/clip.wav"
text=$(unshare --mount --fork sh -ec '
  img=$1 wav=$2
  mount --bind "$img" "$img" && mount -o remount,bind,ro "$img"
  mount -t tmpfs -o mode=1777 tmpfs "$img/tmp"
  mount -t tmpfs -o uid=65532,gid=65532,mode=0750 tmpfs "$img/var/lib/izwi"
  mount -t proc proc "$img/proc" 2>/dev/null || true
  cp "$wav" "$img/var/lib/izwi/clip.wav"
  chroot --userspec=65532:65532 "$img" /usr/bin/izwi transcribe --config /etc/izwi/izwi.toml /var/lib/izwi/clip.wav' - "$work/image" "$work/clip.wav")
echo "image transcribe (read-only root, uid 65532): $text"
echo "$text" | grep -qi "belly" || { echo "dist-test: the image did not transcribe" >&2; exit 1; }
echo "dist-test: ok"
