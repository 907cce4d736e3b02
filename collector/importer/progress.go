package importer

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// startProgress shows progress until the returned function is called: a
// bar redrawn in place on a terminal, else a line every LogEvery.
func (im *importer) startProgress(start time.Time) (stop func()) {
	every := im.opts.LogEvery
	if im.opts.Terminal {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				im.show(start, true)
				return
			case <-t.C:
				im.show(start, false)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

var progressMu sync.Mutex // bad-line reports and the bar share the output

func (im *importer) show(start time.Time, final bool) {
	progressMu.Lock()
	defer progressMu.Unlock()
	read, pts := im.read.Load(), im.points.Load()
	el := time.Since(start).Seconds()
	rate := float64(pts) / max(el, 1e-9)
	frac := float64(read) / float64(max(im.total, 1))
	eta := "?"
	if read > 0 {
		eta = (time.Duration(el * (1 - frac) / frac * float64(time.Second))).Round(time.Second).String()
	}
	if !im.opts.Terminal {
		if !final {
			fmt.Fprintf(im.opts.Progress, "import: %s of %s (%.0f%%), %d points, %.0f points/s, ETA %s\n",
				byteSize(read), byteSize(im.total), 100*frac, pts, rate, eta)
		}
		return
	}
	const width = 30
	n := min(width, int(frac*width))
	fmt.Fprintf(im.opts.Progress, "\r[%s%s] %5.1f%% %s/%s %s points/s ETA %s \x1b[K",
		strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, byteSize(read), byteSize(im.total), count(rate), eta)
	if final {
		fmt.Fprintln(im.opts.Progress)
	}
}

// clearLine clears the bar before another line is printed.
func (im *importer) clearLine() {
	if im.opts.Terminal {
		fmt.Fprint(im.opts.Progress, "\r\x1b[K")
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func count(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.2f M", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.1f k", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}
