package check

import (
	"context"
	"encoding/binary"
	"errors"
)

type sysReader struct {
	uptime   procFile
	proc     procDir
	utmp     procFile
	sessions procDir
	session  procFile
}

func (rd *sysReader) read(context.Context) (sysStats, error) {
	if rd.uptime.path == "" {
		rd.uptime.path = "/proc/uptime"
		rd.proc.path = "/proc"
		rd.utmp.path = "/var/run/utmp"
		rd.sessions.path = "/run/systemd/sessions"
	}
	var s sysStats
	b, err := rd.uptime.read()
	if err != nil {
		return s, err
	}
	if s.uptime, err = parseUptime(b); err != nil {
		return s, err
	}
	if _, err = rd.proc.each(func(name []byte, _ uint8) {
		if _, ok := parseUint(name); ok {
			s.processes++
		}
	}); err != nil {
		return s, err
	}
	s.users, s.hasUsers, err = rd.readUsers()
	return s, err
}

// readUsers counts login sessions from utmp or, where there is no utmp,
// from systemd-logind's session files.
func (rd *sysReader) readUsers() (n uint64, ok bool, err error) {
	b, exists, err := rd.utmp.readIfExists()
	if err != nil || exists {
		return countUtmpUsers(b), err == nil, err
	}
	var ferr error
	exists, err = rd.sessions.each(func(name []byte, typ uint8) {
		// Session files are regular files named by the session id; the
		// directory also holds <id>.ref FIFOs, never to be opened.
		if typ != dtReg && typ != dtUnknown || hasDot(name) || ferr != nil {
			return
		}
		rd.session.path = rd.sessions.path + "/" + string(name)
		b, exists, err := rd.session.readIfExists()
		if err != nil {
			ferr = err
			return
		}
		if exists && logindUserSession(b) {
			n++
		}
	})
	if err == nil {
		err = ferr
	}
	return n, exists && err == nil, err
}

const (
	dtUnknown = 0
	dtReg     = 8
)

func hasDot(b []byte) bool {
	for _, c := range b {
		if c == '.' {
			return true
		}
	}
	return false
}

// parseUptime reads the first field of /proc/uptime ("281.44 440.13").
func parseUptime(b []byte) (float64, error) {
	f, _ := nextField(b)
	v, ok := parseDecimal(f)
	if !ok {
		return 0, errors.New("/proc/uptime: bad uptime")
	}
	return v, nil
}

// glibc's struct utmp on Linux: 384 bytes, ut_type (a short) first, ut_user
// (32 bytes) at offset 44.
const (
	utmpSize        = 384
	utmpUserOff     = 44
	utmpUserProcess = 7
)

// countUtmpUsers counts the USER_PROCESS records with a user name, as
// who(1) does. A trailing partial record is ignored.
func countUtmpUsers(b []byte) uint64 {
	var n uint64
	for ; len(b) >= utmpSize; b = b[utmpSize:] {
		if binary.NativeEndian.Uint16(b) == utmpUserProcess && b[utmpUserOff] != 0 {
			n++
		}
	}
	return n
}

// logindUserSession reports whether a session file of systemd-logind
// (KEY=value lines) describes a user's login session (CLASS=user or
// user-early) that is not closing.
func logindUserSession(b []byte) bool {
	user := false
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		switch {
		case len(line) > 6 && string(line[:6]) == "CLASS=":
			v := line[6:]
			user = string(v) == "user" || string(v) == "user-early"
		case string(line) == "STATE=closing":
			return false
		}
	}
	return user
}
