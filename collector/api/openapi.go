package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 description of the v1 API, kept next to the
// handlers; openapi_test.go holds it to the served routes.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI) // a failed write is the client gone: no one to tell
}
