package cassandra

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// health tracks whether requests fail for want of nodes, and logs each
// change once.
type health struct {
	log   *slog.Logger
	mu    sync.Mutex
	down  bool
	err   error
	since time.Time
}

// observe records the outcome of a request; it returns err.
func (h *health) observe(err error) error {
	outage := err != nil && isOutage(err)
	if err != nil && !outage {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case outage && !h.down:
		h.down, h.err, h.since = true, err, time.Now()
		h.log.Error("cassandra unavailable: writes fail and agents' batches are not acked until it is back", "err", err)
	case outage:
		h.err = err
	case h.down:
		h.down = false
		h.log.Info("cassandra available again", "down_for", time.Since(h.since).Round(time.Millisecond))
	}
	return err
}

// state returns the last outage error, or nil when up.
func (h *health) state() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return h.err
	}
	return nil
}

// isOutage tells errors that mean "not enough nodes" (which the store
// reports as down) from errors of the request itself.
func isOutage(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, gocql.ErrNotFound), errors.Is(err, ErrClosed):
		return false
	case isRequestError(err):
		return false
	}
	return true
}

// isRequestError reports whether the server refused the request itself
// (syntax, invalid, unauthorized, configuration).
func isRequestError(err error) bool {
	var re gocql.RequestError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code() {
	case gocql.ErrCodeSyntax, gocql.ErrCodeInvalid, gocql.ErrCodeUnauthorized, gocql.ErrCodeConfig,
		gocql.ErrCodeAlreadyExists, gocql.ErrCodeCredentials, gocql.ErrCodeFunctionFailure:
		return true
	}
	return false
}
