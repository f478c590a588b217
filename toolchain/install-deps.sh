#!/usr/bin/env bash
# Installs everything midge needs on a fresh Debian 12 machine: cross linkers' runtime
# (libgcc), musl for the three architectures, qemu-user for the ARM tests, and the real
# MQTT clients the integration tests drive (mosquitto-clients, paho-mqtt, and MQTT.js as
# Debian's node-mqtt: it pulls in nodejs and lives in /usr/share/nodejs, see
# Tests/integration/test_21_mqttjs.py). Idempotent: it does nothing when all is present.
# dpkg-dev unpacks Debian's mbedtls source package (toolchain/fetch-mbedtls.sh, run by make deps).
# chromium: headless, it opens the status page in test_34 (Tests/integration/cdp.py).
# Swift itself (6.3.1) is expected at /opt/swift or on PATH.
set -u
apt_pkgs=(shellcheck gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
          libc6-dev-armhf-cross qemu-user-static musl-tools musl-dev:arm64 musl-dev:armhf
          mosquitto mosquitto-clients node-mqtt node-ws openssl iproute2 gcc strace valgrind dpkg-dev
          chromium)
py_pkgs=("paho-mqtt==2.1.0" "pytest")

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt packages missing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  for a in arm64 armhf; do
    dpkg --print-foreign-architectures | grep -qx "$a" || $sudo dpkg --add-architecture "$a"
  done
  # apt-get update can exit 100 here when one security index is mid-sync; installs still work.
  $sudo apt-get update -qq || echo "install-deps: apt-get update reported an error; continuing"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || { echo "install-deps: apt-get install failed"; exit 1; }
  # Debian starts a system mosquitto on install; midge's tests run their own instances.
  if command -v systemctl >/dev/null && systemctl is-active -q mosquitto 2>/dev/null; then
    $sudo systemctl stop mosquitto || true
  fi
fi

python3 -c 'import paho.mqtt, pytest' 2>/dev/null || {
  echo "install-deps: installing ${py_pkgs[*]}"
  python3 -m pip install -q "${py_pkgs[@]}" || { echo "install-deps: pip install failed"; exit 1; }
}

command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] || {
  echo "install-deps: Swift 6.3.1 not found (expected /opt/swift/usr/bin/swift)"; exit 1; }
exit 0
