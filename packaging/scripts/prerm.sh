#!/bin/sh
# prerm of @NAME@, written for both package formats.
# deb: prerm remove|upgrade|...; rpm: %preun 0 (remove) or 1 (upgrade).
set -e

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl stop @NAME@.service || true
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable @NAME@.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
