package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/console"
	"github.com/osccr/osccr/internal/control"
)

// TestServeHandler: the API keeps /v1/ and /openapi.json, the console has every other path,
// and both ask for the same token.
func TestServeHandler(t *testing.T) {
	h, err := serveHandler(control.New(nil), "tok", "default", console.Config{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, contentType string
		status            int
		location          string
	}{
		{"/openapi.json", "application/json", http.StatusOK, ""},
		{"/v1/project/default/service", "application/json", http.StatusUnauthorized, ""},
		{"/v1/nothing", "application/json", http.StatusNotFound, ""},
		{"/", "", http.StatusSeeOther, "/signin?next=%2F"},
		{"/services/orders", "", http.StatusSeeOther, "/signin?next=%2Fservices%2Forders"},
		{"/signin", "text/html", http.StatusOK, ""},
		{"/static/console.js", "text/javascript", http.StatusOK, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) || rec.Header().Get("Location") != tt.location {
			t.Errorf("GET %s: %d %q to %q, want %d %q to %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Location"), tt.status, tt.contentType, tt.location)
		}
	}
}
