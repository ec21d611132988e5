#!/usr/bin/env bash
# Install readiness and everything the simulated exam room needs (Debian 12, as root).
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo -i, then bash install.sh): it installs Debian packages." >&2
    exit 2
fi

# iperf3, snmpd, dnsmasq, nftables, ping, nmap: the real peers of the lab room;
# python3-gi + gst-rtsp-server + x264 (plugins-ugly): the lab's RTSP cameras;
# ffmpeg: ffprobe, the peer the camera benchmark compares with; arp-scan: the ARP
# benchmark's peer; chromium + CJK fonts: the PDF report; poppler-utils: its tests.
PACKAGES=(
    iproute2 iputils-ping nftables dnsmasq-base snmpd snmp iperf3 nmap arp-scan ethtool procps
    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
    ffmpeg chromium fonts-noto-cjk poppler-utils prometheus
)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# Debian starts snmpd as a service on install; the lab runs its own inside namespaces.
systemctl disable --now snmpd >/dev/null 2>&1 || true

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "readiness installed: $(command -v readiness || echo 'python3 -m readiness')"
