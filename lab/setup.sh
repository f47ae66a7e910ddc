#!/usr/bin/env bash
# Installs what the lab, the tests and the benchmarks need on a Debian 12 controller (run as root).
# One list, used by `npm run setup` and by .ci/run.
set -euo pipefail

packages=(
  qemu-system-x86 qemu-utils   # the VM hosts (TCG when there is no /dev/kvm)
  mmdebstrap e2fsprogs         # images built from Debian packages, packed without mounting
  vde2                         # the layer-2 segment the VMs share
  openssh-server openssh-client
  util-linux iproute2 nftables # light hosts (namespaces) and cutting a host's SSH port
  ansible-core                 # the differential inventory tests and the benchmarks' peer
  python3-apt                  # Ansible's apt module on light hosts (this machine's python3) in the apt cases
  gcc make libc6-dev sparse linux-headers-amd64  # compile checks of kernel/ against Debian 12 headers
  g++                          # node-gyp: ssh2's native crypto (build/dist.ts builds it if npm ci could not)
  kmod                         # depmod and modinfo for the kernel hook's test on a light host
  python3 sudo time            # sudo: the become tests; time: the benchmarks' CPU times
  python3-prometheus-client prometheus chromium  # hbmon-monitor's tests: its client library, the scraper, the page's browser
)

# --missing: print the packages of the list that are not installed (one per line) and stop; the lab calls
# this to install on first use, so the list above stays the only one.
if [ "${1:-}" = --missing ]; then
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null | awk '$4 == "installed" { print $1 }' || true)  # dpkg-query fails on a package it never heard of
  for p in "${packages[@]}"; do
    grep -qxF "$p" <<<"$installed" || echo "$p"
  done
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (it installs Debian packages)" >&2
  exit 1
fi

# Installing openssh-server must not start a system sshd on port 22: the light hosts listen there.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
