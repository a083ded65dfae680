package webapp

// The safety of the HTTP routes: optional authentication, the read-only
// mode, and protection of the routes that change state against requests
// forged by other web sites. Every request passes through guard.admit (from
// ServeHTTP) before it reaches a route, in this order:
//
//  1. Authentication, when http.auth has a username or a token: every
//     route except GET /healthz needs HTTP basic credentials or
//     "Authorization: Bearer <token>", else 401 with a WWW-Authenticate
//     challenge per configured scheme. The configured secrets are resolved
//     once, at New; only their SHA-256 digests are kept, and a request's
//     credentials are hashed and compared with crypto/subtle, so neither the
//     time taken nor an early exit reveals how much of a secret (or of its
//     length) was right.
//  2. Requests that match no route go on to the router, which answers 404
//     or 405 itself (after authentication, so an anonymous client learns
//     nothing about the routes).
//  3. GET, HEAD and OPTIONS are safe: no route changes anything on them
//     (auth_test.go walks every registered GET route with hostile input and
//     compares the store, the index, the collections and the anomaly
//     records before and after). Every other method ("unsafe") must pass:
//  4. Go's http.CrossOriginProtection: a browser request whose
//     Sec-Fetch-Site is not same-origin (or, from browsers older than 2023,
//     whose Origin differs from Host) is refused with 403. Requests with
//     neither header (curl, scripts, Prometheus) are not from a browser and
//     pass. Browsers attach saved basic credentials to cross-site requests,
//     so this, not the authentication, is what stops a forged POST.
//  5. The read-only mode (http.read_only): 403, except for the routes of
//     readOnlyRoutes, which only read (POST /api/search is a query whose
//     drawn curve is too long for a URL).
//  6. A body must be declared as JSON (Content-Type: application/json),
//     else 415. The HTML form encodings and text/plain are what a foreign
//     page can send without a CORS preflight, so refusing them is a second,
//     independent wall against forged requests, and it tells a curl user
//     who forgot -H (or --json) what to send.
//
// Not done here: TLS (put a TLS-terminating proxy in front of Kale when the
// credentials cross a network: basic credentials and tokens travel in
// clear over plain HTTP), rate limiting of failed attempts, users with
// different rights, and trusted foreign origins for cross-origin writes.

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/go-kale/kale/alerters"
)

// healthzRoute is the one route open without credentials: load balancers
// and orchestrators probe it without any.
const healthzRoute = "GET /healthz"

// readOnlyRoutes are the routes of unsafe methods that change nothing,
// allowed in read-only mode. It is the one list to keep in step with the
// routes: every other route of a method but GET, HEAD and OPTIONS is
// refused when http.read_only is set.
var readOnlyRoutes = map[string]bool{
	"POST /api/search": true, // a query by drawn curve: POST only for the body's size
}

// realm is the protection space named in WWW-Authenticate challenges.
const realm = "Kale"

// Validate reports every problem of the web server's config at once, each
// naming its key. It reads no environment variable: "env:NAME" secrets are
// resolved by New, and checked at startup with AuthConfig.Resolve.
func (c Config) Validate() error {
	var errs []error
	a := c.Auth
	if a.Username != "" && a.Password == "" {
		errs = append(errs, errors.New("http.auth.password is required with http.auth.username"))
	}
	if a.Username == "" && a.Password != "" {
		errs = append(errs, errors.New("http.auth.username is required with http.auth.password"))
	}
	if strings.ContainsRune(a.Username, ':') || hasControl(a.Username) {
		errs = append(errs, errors.New("http.auth.username must hold no colon (HTTP basic authentication cannot send one) and no control character"))
	}
	for _, s := range []struct {
		key    string
		secret alerters.Secret
	}{{"http.auth.password", a.Password}, {"http.auth.token", a.Token}} {
		if s.secret.Reveal() == "env:" {
			errs = append(errs, fmt.Errorf(`%s: "env:" names no environment variable; write env:NAME`, s.key))
		}
	}
	if !a.Token.IsEnv() {
		if err := checkToken(a.Token); err != nil {
			errs = append(errs, err)
		}
	}
	if !a.Password.IsEnv() && hasControl(a.Password.Reveal()) {
		errs = append(errs, errors.New("http.auth.password holds a control character"))
	}
	return errors.Join(errs...)
}

// checkToken refuses a bearer token that no client could send in an
// Authorization header: spaces and control characters.
func checkToken(t alerters.Secret) error {
	for _, r := range t.Reveal() {
		if r <= ' ' || r >= 0x7f {
			return errors.New("http.auth.token must be printable ASCII without spaces (for example: openssl rand -hex 32)")
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// Resolve returns c with its "env:NAME" secrets replaced by the variables'
// values. It fails, naming the key and the variable (never a value), when
// a variable is empty or unset, or when a resolved token could not be sent
// in a header. kale's startup (internal/app.Open) calls it so that a
// missing variable stops Kale at once rather than failing every request.
func (c AuthConfig) Resolve() (AuthConfig, error) {
	const hint = ": set the variable in kale's environment, or write the value in the config"
	var errs []error
	pw, err := c.Password.Resolve()
	if err != nil {
		errs = append(errs, fmt.Errorf("http.auth.password: %w"+hint, err))
	}
	tok, err := c.Token.Resolve()
	if err != nil {
		errs = append(errs, fmt.Errorf("http.auth.token: %w"+hint, err))
	} else if err := checkToken(tok); err != nil {
		if c.Token.IsEnv() { // name the variable; never print a value
			err = fmt.Errorf("%w (the value of %s)", err, strings.TrimPrefix(c.Token.Reveal(), "env:"))
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	c.Password, c.Token = pw, tok
	return c, nil
}

// guard is the safety layer in front of the routes (see the comment at
// the top of this file).
type guard struct {
	basic     bool     // username and password are set
	userSum   [32]byte // SHA-256 of the username
	passSum   [32]byte // SHA-256 of the resolved password
	bearer    bool     // a token is set
	tokenSum  [32]byte // SHA-256 of the resolved token
	challenge []string // WWW-Authenticate values
	needs     string   // what a client must send, for the 401's message
	// broken is why New could not set the guard up (an invalid http
	// section, an unresolvable secret): every request is then refused
	// (fail closed), /healthz included so that monitoring notices.
	broken   error
	readOnly bool
	cross    *http.CrossOriginProtection
}

// newGuard validates cfg, resolves its secrets and keeps their digests. A
// config that fails gives a guard that refuses everything: New cannot
// return an error, and open access is not an acceptable fallback.
// (internal/app.Open validates and resolves first, so Kale itself never
// starts that way.)
func newGuard(cfg Config, logger *slog.Logger) *guard {
	g := &guard{readOnly: cfg.ReadOnly, cross: http.NewCrossOriginProtection()}
	a, err := cfg.Auth.Resolve()
	if verr := cfg.Validate(); verr != nil {
		err = verr // Validate's message is the more precise one
	}
	if err != nil {
		g.broken = err
		logger.Error("the web server refuses every request: its config is invalid", "err", err)
		return g
	}
	var kinds []string
	if a.Username != "" {
		g.basic = true
		g.userSum = sha256.Sum256([]byte(a.Username))
		g.passSum = sha256.Sum256([]byte(a.Password.Reveal()))
		g.challenge = append(g.challenge, `Basic realm="`+realm+`", charset="UTF-8"`)
		kinds = append(kinds, "HTTP basic credentials (http.auth.username and password)")
	}
	if a.Token != "" {
		g.bearer = true
		g.tokenSum = sha256.Sum256([]byte(a.Token.Reveal()))
		g.challenge = append(g.challenge, `Bearer realm="`+realm+`"`)
		kinds = append(kinds, "the header Authorization: Bearer <http.auth.token>")
	}
	g.needs = "authentication required: send " + strings.Join(kinds, " or ")
	return g
}

// admit runs the checks and answers the request itself when one fails;
// true means the route may serve it. mux finds the route's pattern.
func (g *guard) admit(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) bool {
	_, pattern := mux.Handler(r)
	if g.broken != nil {
		// The reason is in the log, not in the answer: anonymous clients
		// learn nothing about the configuration.
		writeError(w, http.StatusServiceUnavailable, "the web server's config (http section) is invalid, so it refuses every request: see kale's log, fix the config and restart kale")
		return false
	}
	if pattern != healthzRoute && (g.basic || g.bearer) && !g.authenticated(r) {
		for _, c := range g.challenge {
			w.Header().Add("WWW-Authenticate", c)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeError(w, http.StatusUnauthorized, g.needs)
		return false
	}
	if pattern == "" || safeMethod(r.Method) {
		return true // the router's 404, 405 or redirect; or a read
	}
	if err := g.cross.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross-origin request refused: "+r.Method+" is accepted only from Kale's own page or from clients that are not browsers ("+err.Error()+"); a proxy in front of Kale must pass the Host header unchanged")
		return false
	}
	if g.readOnly && !readOnlyRoutes[pattern] {
		writeError(w, http.StatusForbidden, "kale webapp is read-only (http.read_only): "+pattern+" is refused; set http.read_only: false to allow changes")
		return false
	}
	if hasBody(r.Method) {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			if ct == "" {
				ct = "none"
			}
			writeError(w, http.StatusUnsupportedMediaType, "the request body must be JSON sent with the header Content-Type: application/json (got "+ct+"); with curl: --json '{...}' or -H 'Content-Type: application/json'")
			return false
		}
	}
	return true
}

// authenticated reports whether r carries the configured basic
// credentials or bearer token. Every comparison is of SHA-256 digests in
// constant time, and both halves of a basic pair are always compared.
func (g *guard) authenticated(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(auth, " ")
	switch {
	case g.bearer && strings.EqualFold(scheme, "Bearer"):
		sum := sha256.Sum256([]byte(strings.TrimSpace(rest)))
		return subtle.ConstantTimeCompare(sum[:], g.tokenSum[:]) == 1
	case g.basic && strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok {
			return false
		}
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		return subtle.ConstantTimeCompare(u[:], g.userSum[:])&subtle.ConstantTimeCompare(p[:], g.passSum[:]) == 1
	}
	return false
}

// safeMethod: the methods that must change nothing (RFC 9110 9.2.1), as
// http.CrossOriginProtection counts them.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// hasBody: the methods whose request carries the route's input as a body.
func hasBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// readOnly reports whether http.read_only is set, for the page to hide
// the controls that change state.
func (h *Handler) readOnly() bool { return h.cfg.ReadOnly }
