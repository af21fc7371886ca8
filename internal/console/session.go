package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/osccr/osccr/internal/access"
)

// cookieName is the session cookie: a random session ID, never the token.
const cookieName = "osccr_session"

// sessionLifetime bounds a signed-in session; signing in again starts a new one. A session
// that has not signed in (the sign-in form's, for its CSRF token) lasts signInLifetime.
const (
	sessionLifetime = 12 * time.Hour
	signInLifetime  = 30 * time.Minute
)

// maxSessions bounds the store: anyone can open the sign-in page, and each visit without a
// cookie starts a session. Past it, a session that has not signed in makes room first.
const maxSessions = 10000

// session is one browser's sign-in. Every session, signed in or not, has a CSRF token that
// every form carries (the sign-in form too).
type session struct {
	id       string
	csrf     string
	signedIn bool
	// who signed in: the token's name and role (never the token).
	who     access.Identity
	expires time.Time
	// flash is a message for the next page shown (set by an action that redirects).
	flash flash
}

// flash is a one-time message: what an action did, or why it was refused.
type flash struct {
	Text  string
	Error bool
}

// sessions is the server-side session store: the cookie holds only a random ID.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	now  func() time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, now: time.Now}
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// get returns the request's live session, or nil.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[c.Value]
	if sess == nil {
		return nil
	}
	if s.now().After(sess.expires) {
		delete(s.byID, c.Value)
		return nil
	}
	return sess
}

// start replaces the request's session (if any) with a new one and sets its cookie: a new ID
// at sign-in, so an ID planted before it is worthless after.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, signedIn bool) *session {
	return s.startAs(w, r, signedIn, access.Identity{})
}

// startAs is start for a session signed in as who.
func (s *sessions) startAs(w http.ResponseWriter, r *http.Request, signedIn bool, who access.Identity) *session {
	s.mu.Lock()
	if c, err := r.Cookie(cookieName); err == nil {
		delete(s.byID, c.Value)
	}
	now := s.now()
	for id, old := range s.byID { // drop expired sessions
		if now.After(old.expires) {
			delete(s.byID, id)
		}
	}
	if len(s.byID) >= maxSessions {
		s.evictLocked()
	}
	lifetime := signInLifetime
	if signedIn {
		lifetime = sessionLifetime
	}
	sess := &session{id: randomID(), csrf: randomID(), signedIn: signedIn, who: who, expires: now.Add(lifetime)}
	s.byID[sess.id] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sess.id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(lifetime / time.Second),
	})
	return sess
}

// evictLocked drops one session to make room: one that has not signed in if there is one.
func (s *sessions) evictLocked() {
	victim := ""
	for id, sess := range s.byID {
		victim = id
		if !sess.signedIn {
			break
		}
	}
	delete(s.byID, victim)
}

// end forgets the request's session and clears its cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

func (s *sessions) setFlash(sess *session, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.flash = f
}

func (s *sessions) takeFlash(sess *session) flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := sess.flash
	sess.flash = flash{}
	return f
}

// checkCSRF accepts a form post only with the session's CSRF token and, when the browser says
// where the request comes from, from this very origin ("null", the origin of a sandboxed or
// privacy-stripped page, is not this one).
func checkCSRF(r *http.Request, sess *session) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if sess == nil {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}
