#!/usr/bin/env bash
# Install readiness on Debian 12, as root.
#   bash install.sh         what a site's PC needs: checks, the PDF report, the drill's room
#   bash install.sh --dev   also the test and benchmark peers, and readiness editable with
#                           its test extras (what `python3 -m pytest` in this checkout needs)
set -euo pipefail
cd "$(dirname "$0")"

DEV=0
case "${1:-}" in
    "") ;;
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (bash install.sh [--dev])" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (sudo -i, then bash install.sh): it installs Debian packages." >&2
    exit 2
fi

# Running checks on a site: ip (the seat agent reads its addresses), ethtool (its NIC
# speed), ping and iperf3 (a technician's cross-check of a figure by hand; the checks
# carry their own ICMP and iperf3 code), Chromium + CJK fonts (the PDF report).
SITE_PACKAGES=(iproute2 ethtool iputils-ping iperf3 chromium fonts-noto-cjk)
# The simulated exam room of `readiness drill` (lab/prereq.py checks the same list):
# nftables, dnsmasq, snmpd, sysctl; python3-gi + gst-rtsp-server + x264 (plugins-ugly)
# for the lab's RTSP cameras, h264parse (plugins-bad) for its recorder's replay.
LAB_PACKAGES=(
    nftables dnsmasq-base snmpd procps
    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
    gstreamer1.0-plugins-bad
)
# Test and benchmark peers only: snmpget, nmap, arp-scan, ffprobe (the tools our probes
# are compared with), poppler-utils (the PDF report's tests), prometheus + promtool (the
# metrics and alert-rule tests), prometheus-alertmanager (the province's alert delivery
# test) and apache2-utils (htpasswd: the bcrypt hashes of the province's write passwords).
DEV_PACKAGES=(snmp nmap arp-scan ffmpeg poppler-utils prometheus prometheus-alertmanager
              apache2-utils)

PACKAGES=("${SITE_PACKAGES[@]}" "${LAB_PACKAGES[@]}")
if [ "$DEV" = 1 ]; then
    PACKAGES+=("${DEV_PACKAGES[@]}")
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# Debian starts snmpd as a service on install; the lab runs its own inside namespaces.
systemctl disable --now snmpd >/dev/null 2>&1 || true

if [ "$DEV" = 1 ]; then
    # editable: the tests and the lab's daemons run this checkout's code
    python3 -m pip install -q --disable-pip-version-check -e '.[test]'
else
    # a real installation: works from any folder, the checkout can be removed
    python3 -m pip install -q --disable-pip-version-check .
fi
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "readiness installed: $(command -v readiness || echo 'python3 -m readiness')"
