#!/bin/sh
# postinst of @NAME@, written for both package formats.
# deb: postinst configure [OLD-VERSION]; rpm: %post 1 (install) or 2 (upgrade).
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac
first_install=
if [ "$1" = 1 ] || { [ "$1" = configure ] && [ -z "$2" ]; }; then
	first_install=yes
fi

# The daemons run as the system user vigil, shared by agent and collector.
# Removing the package keeps it, as Debian does with system users: files
# left with its uid must not go to a later user.
if ! getent group vigil >/dev/null; then
	groupadd --system vigil
fi
if ! getent passwd vigil >/dev/null; then
	useradd --system --gid vigil --home-dir /var/lib/vigil --no-create-home \
		--shell /usr/sbin/nologin --comment "Vigil monitoring" vigil
fi

# State directory, the daemon's alone. An existing one is left as it is.
[ -d /var/lib/vigil ] || install -d -m 0755 -o root -g root /var/lib/vigil
[ -d @STATE_DIR@ ] || install -d -m 0750 -o vigil -g vigil @STATE_DIR@

# The config may hold a token or key paths: root writes it, group vigil
# reads it. It ships as root:root 0640; a group set by the administrator
# is kept.
if [ -f @CONFIG@ ] && [ "$(stat -c %G @CONFIG@)" = root ]; then
	chgrp vigil @CONFIG@
fi

# Enable the unit where systemctl exists (it works without a running
# systemd), but start or restart it only where systemd runs the machine.
if command -v systemctl >/dev/null 2>&1; then
	if [ -n "$first_install" ]; then
		systemctl enable @NAME@.service >/dev/null 2>&1 || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		if [ -n "$first_install" ]; then
			systemctl start @NAME@.service ||
				echo "@NAME@ did not start: edit @CONFIG@, then: systemctl restart @NAME@" >&2
		else
			systemctl try-restart @NAME@.service || true
		fi
	fi
fi
exit 0
