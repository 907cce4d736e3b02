#!/bin/sh
# postrm of @NAME@, written for both package formats.
# deb: postrm remove|purge|upgrade|...; rpm: %postun 0 (remove) or 1 (upgrade).
set -e

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
purge)
	# deb only: purge removes the config (dpkg does) and the state. The
	# user vigil stays (see postinst).
	rm -rf @STATE_DIR@
	rmdir /var/lib/vigil 2>/dev/null || true
	;;
esac
exit 0
