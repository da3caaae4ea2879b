#!/usr/bin/env bash
# Install the Debian packages a make target needs, when running as root with apt-get.
# Usage: scripts/system-deps.sh demo|test|bench
# Without root (or without apt-get) it only says what is missing; the tests that need
# those parts then skip with a reason (or fail under TELECENTRE_REQUIRE_ALL=1).
set -euo pipefail

profile=${1:-demo}
case "$profile" in
  demo)  wanted=(python3-venv fonts-dejavu-core) ;;
  test)  wanted=(python3-venv fonts-dejavu-core chromium postgresql nftables dnsmasq openssh-server prometheus) ;;
  bench) wanted=(python3-venv wrk nftables iptables iperf3 openssh-server) ;;
  *) echo "unknown profile: $profile" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3-venv only matters when the system python cannot make a venv by itself.
if python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
read -r -a missing <<<"${missing[*]}"
((${#missing[@]})) || exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Note: missing Debian packages (${missing[*]}); run as root to install them." >&2
fi
