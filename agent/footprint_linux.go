package agent

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseText drops this process's mappings of its own executable's
// read-only pages (code and constants). Start-up touches most of the binary
// once — package initialisers, the TLS and QUIC set-up — and the kernel maps
// pages in 64 KiB runs around each fault, so without this the agent would
// keep nearly its whole binary resident for the rest of its life. The pages
// stay in the page cache; the few the steady state uses fault back in.
// MADV_DONTNEED is harmless here: these mappings are read-only, so there is
// nothing private to lose.
func releaseText() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || (fields[1] != "r-xp" && fields[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// Best effort: a mapping the kernel refuses to drop stays resident.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
