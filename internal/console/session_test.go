package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSessionStoreBounded: visits to the sign-in page cannot grow the store without bound,
// making room never costs a signed-in session while others can go, and sessions expire.
func TestSessionStoreBounded(t *testing.T) {
	s := newSessions()
	now := time.Now()
	s.now = func() time.Time { return now }
	signIn := httptest.NewRequest(http.MethodPost, "/signin", nil)
	rec := httptest.NewRecorder()
	kept := s.start(rec, signIn, true)
	for range maxSessions + 50 {
		s.start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/signin", nil), false)
	}
	if len(s.byID) > maxSessions {
		t.Errorf("%d sessions, want at most %d", len(s.byID), maxSessions)
	}
	withCookie := func(id string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
		return r
	}
	if got := s.get(withCookie(kept.id)); got != kept {
		t.Fatal("the signed-in session was dropped to make room")
	}
	now = now.Add(signInLifetime + time.Second)
	s.start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/signin", nil), false)
	if len(s.byID) != 2 {
		t.Errorf("%d sessions after the sign-in ones expired, want 2 (the signed-in one and the new one)", len(s.byID))
	}
	now = now.Add(sessionLifetime)
	if s.get(withCookie(kept.id)) != nil {
		t.Error("a signed-in session outlives its lifetime")
	}
}
