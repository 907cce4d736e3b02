package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
)

// httpError is an answer other than success: the status, the stable code
// clients switch on and the message people read. Handlers return one;
// the wrapper (serve, through answer) writes it and logs a 5xx.
type httpError struct {
	status  int
	code    string
	message string
	header  http.Header // set on the answer (Retry-After, WWW-Authenticate)
	// cause, for a 5xx, is the error behind it, logged once by serve.
	cause error
	// logged: the error was counted and logged where it arose
	// (rate-limited refusals), so serve does not log it again.
	logged bool
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func (e *httpError) Unwrap() error { return e.cause }

// errorf makes an httpError of status and code.
func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *httpError {
	return errorf(http.StatusBadRequest, "bad_request", format, args...)
}

// storeFailed is a failed store call of operation what: 503, the cause
// logged by serve.
func storeFailed(what string, err error) *httpError {
	e := errorf(http.StatusServiceUnavailable, "unavailable", "%s: the store failed; try again", what)
	e.cause = fmt.Errorf("%s: %w", what, err)
	return e
}

// withHeader sets a header of the answer.
func (e *httpError) withHeader(k, v string) *httpError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(k, v)
	return e
}

// asHTTPError makes any error an httpError; one that is not is a fault
// of the collector: 500, its cause logged.
func asHTTPError(err error) *httpError {
	var e *httpError
	if errors.As(err, &e) {
		return e
	}
	return &httpError{status: http.StatusInternalServerError, code: "internal", message: "internal error", cause: err}
}

// reply is a success answer other than 200 with a JSON body.
type reply struct {
	status      int
	contentType string // "": body is encoded as JSON
	body        any    // []byte when contentType is set
	then        func() // run once the answer is written
}

// errorWriter writes an error in one of the API's two shapes.
type errorWriter func(w http.ResponseWriter, e *httpError)

// writeVigilError writes Vigil's shape: {"error": {"code", "message"}}.
func writeVigilError(w http.ResponseWriter, e *httpError) {
	writeError(w, e.status, e.code, e.message)
}

// writePromError writes Prometheus' shape, for clients of
// /prometheus/api/v1/ (Grafana, promtool) that read no other.
func writePromError(w http.ResponseWriter, e *httpError) {
	promapi.WriteError(w, e.status, e.code, e.message)
}

// answer writes the result of a handler: v on success (a reply, or a
// value as 200 JSON), else the error in the route's shape, logging a 5xx
// once with what it concerned.
func (a *API) answer(w http.ResponseWriter, r *http.Request, tok store.Token, v any, err error, shape errorWriter) {
	if err != nil {
		e := asHTTPError(err)
		if e.status >= 500 && !e.logged {
			a.Log.Error("request failed", "route", r.Pattern, "tenant", tok.Tenant, "token", tok.ID,
				"status", e.status, "code", e.code, "err", orErr(e.cause, e))
		}
		for k, vs := range e.header {
			w.Header()[k] = vs
		}
		shape(w, e)
		return
	}
	rp, ok := v.(reply)
	switch {
	case !ok:
		writeJSON(w, http.StatusOK, v)
	case rp.contentType == "":
		writeJSON(w, rp.status, rp.body)
	default:
		b := rp.body.([]byte)
		w.Header().Set("Content-Type", rp.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(rp.status)
		// The status is sent: a failed write means the client went
		// away, and there is no one left to tell.
		_, _ = w.Write(b)
	}
	if rp.then != nil {
		rp.then()
	}
}

// orErr returns a unless it is nil, else b.
func orErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// handler answers a request made with tok: a value to write, or an error.
type handler func(r *http.Request, tok store.Token) (any, error)

// serve wraps h: it authenticates the request (a token of one of roles;
// doing completes "a read token cannot ..."), bounds its body to maxBody
// bytes (0: not read), runs h and answers what it returns, errors in shape.
func (a *API) serve(doing string, roles []store.Role, maxBody int64, shape errorWriter, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if maxBody > 0 {
			// Reading past it fails with *http.MaxBytesError and makes
			// the server close the connection after the answer.
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		tok, err := a.authenticate(r, doing, roles...)
		var v any
		if err == nil {
			v, err = h(r, tok)
		}
		a.answer(w, r, tok, v, err, shape)
	})
}

var readRoles = []store.Role{store.RoleRead, store.RoleAdmin}

// read wraps h so it only runs for a valid read (or admin) token.
func (a *API) read(h handler) http.Handler {
	return a.serve("read", readRoles, 0, writeVigilError, h)
}

// admin wraps h so it only runs for a valid admin token.
func (a *API) admin(h handler) http.Handler {
	return a.serve("administer tokens", []store.Role{store.RoleAdmin}, maxTokenBody, writeVigilError, h)
}

// authenticate checks the request's token and that its role is one of
// roles. doing completes "a read token cannot ..." in the 403 message.
func (a *API) authenticate(r *http.Request, doing string, roles ...store.Role) (store.Token, error) {
	secret, ok := bearer(r)
	if !ok {
		return store.Token{}, errorf(http.StatusUnauthorized, "unauthenticated",
			"send a token as 'Authorization: Bearer TOKEN' or as the password of HTTP basic auth").
			withHeader("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	tok, err := auth.Authenticate(r.Context(), a.Store, secret)
	if errors.Is(err, auth.ErrInvalidToken) {
		// RFC 7235 §3.1: every 401 names the scheme to use.
		return store.Token{}, errorf(http.StatusUnauthorized, "unauthenticated", "the token is unknown or revoked").
			withHeader("WWW-Authenticate", `Bearer realm="vigil", error="invalid_token"`)
	}
	if err != nil {
		e := errorf(http.StatusServiceUnavailable, "unavailable", "the store cannot be reached; try again")
		e.cause = fmt.Errorf("token lookup: %w", err)
		return store.Token{}, e
	}
	for _, role := range roles {
		if tok.Role == role {
			return tok, nil
		}
	}
	return store.Token{}, errorf(http.StatusForbidden, "forbidden",
		"a %s token cannot %s; use a token with role %s", tok.Role, doing, roles[0])
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code = code
	e.Error.Message = msg
	writeJSON(w, status, e)
}

// writeJSON encodes v before sending the status, so a value JSON cannot
// hold (a NaN, say) becomes a 500 that says so, not an empty 200.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		var e apiError
		e.Error.Code = "internal"
		e.Error.Message = "encode response: " + err.Error()
		b, _ = json.Marshal(e) // strings only: always encodes
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent: a failed write means the client went away, and
	// there is no one left to tell. The newline is json.Encoder's, kept.
	_, _ = w.Write(append(b, '\n'))
}
