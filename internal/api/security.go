package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/events"
)

// The API's part of the security edge: an address that sends bad tokens
// is banned on the ban list SIP and AMI share (and a banned address is
// refused here too), the bans and drop counters are shown and cleared
// here, every change is written to the audit log, and HTTPS carries HSTS.
// Tokens are never logged: not in the audit log, not in a security event.

// remoteAddr is the request's peer (the TCP peer; forwarding headers are
// not trusted).
func remoteAddr(r *http.Request) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// refuseBanned answers a request from a banned address.
func (a *API) refuseBanned(w http.ResponseWriter, r *http.Request) bool {
	if !a.opts.Guard.Banned(remoteAddr(r).Addr()) {
		return false
	}
	a.opts.Guard.Bans().Counter("api.refused_banned").Add(1)
	a.fail(w, r, &problem{Type: typeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
		Detail: "this address is banned after repeated failures; an administrator can lift the ban (entvoice ban remove)"})
	return true
}

// authFailed counts a bad token against the address and reports it as a
// security event (Service API, the token never in it).
func (a *API) authFailed(r *http.Request, hadToken bool) {
	if !hadToken {
		return // no credentials: a challenge, not a failure
	}
	ap := remoteAddr(r)
	if a.opts.Guard.AuthFailed(ap.Addr()) {
		a.log.Warn("api: address banned after repeated bad tokens", "remote", ap.Addr())
	}
	a.securityEvent(r, events.Security{Kind: events.InvalidAccountID, AccountID: "<token>"})
}

func (a *API) securityEvent(r *http.Request, ev events.Security) {
	ev.Service = "API"
	ev.SessionID = r.Method + " " + r.URL.Path
	tr := "TCP"
	if r.TLS != nil {
		tr = "TLS"
	}
	ev.RemoteAddr = events.SecurityAddr(tr, remoteAddr(r))
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if t, ok := la.(*net.TCPAddr); ok {
			ev.LocalAddr = events.SecurityAddr(tr, t.AddrPort())
		}
	}
	ev.Report(nil, a.log)
}

// Ban is a ban as the API shows it.
type Ban struct {
	Address string    `json:"address"`
	Service string    `json:"service"`
	Reason  string    `json:"reason"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Hits    uint64    `json:"hits"`
}

// SecurityState is GET /security.
type SecurityState struct {
	Bans     []Ban             `json:"bans"`
	Counters map[string]uint64 `json:"counters"`
}

func (a *API) bans(p *principal) (*acl.BanList, error) {
	if !p.admin() {
		// The operator's, like nodes: a tenant token finds nothing here.
		return nil, notFound("bans and counters are the operator's (an admin token sees them)")
	}
	return a.opts.Guard.Bans(), nil
}

func bansOf(b *acl.BanList) []Ban {
	out := []Ban{}
	for _, x := range b.List() {
		out = append(out, Ban{Address: x.Addr.String(), Service: x.Service, Reason: x.Reason, Since: x.Since.UTC(), Until: x.Until.UTC(), Hits: x.Hits})
	}
	return out
}

func (a *API) getSecurity(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, SecurityState{Bans: bansOf(b), Counters: b.Counters()})
}

func (a *API) listBans(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[Ban]{Items: bansOf(b)})
}

// BanRequest is POST /security/bans.
type BanRequest struct {
	Address string `json:"address"`
	Reason  string `json:"reason"`
	// Seconds is how long the ban lasts (default 3600).
	Seconds int `json:"seconds"`
}

func (a *API) addBan(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	var req BanRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ip, err := netip.ParseAddr(req.Address)
	if err != nil {
		return badField("address", "%q is not an IP address", req.Address)
	}
	if req.Seconds < 0 || req.Seconds > 10*365*24*3600 {
		return badField("seconds", "must be between 0 and ten years")
	}
	if req.Seconds == 0 {
		req.Seconds = 3600
	}
	if req.Reason == "" {
		req.Reason = "banned by an operator"
	}
	if !b.Ban(ip, "operator", req.Reason, time.Duration(req.Seconds)*time.Second) {
		return badField("address", "%s is in security.allow and cannot be banned", ip)
	}
	for _, x := range bansOf(b) {
		if x.Address == ip.Unmap().String() {
			return writeJSON(w, http.StatusCreated, x)
		}
	}
	return writeJSON(w, http.StatusCreated, Ban{Address: ip.String()})
}

func (a *API) removeBan(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(r.PathValue("address"))
	if err != nil {
		return badField("address", "%q is not an IP address", r.PathValue("address"))
	}
	if !b.Unban(ip) {
		return notFound("%s is not banned", ip)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) clearBans(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"lifted": b.Clear()})
}

func (a *API) resetCounters(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := a.bans(p)
	if err != nil {
		return err
	}
	b.ResetCounters()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// AuditRecord is one API change: who (the token's id and tenant), what
// (method, path, answer), when and from where.
type AuditRecord struct {
	Time    time.Time `json:"time"`
	TokenID string    `json:"token_id"`
	Tenant  string    `json:"tenant,omitempty"`
	Remote  string    `json:"remote"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Status  int       `json:"status"`
}

// Audit is the audit log: a JSON-lines file (0600, appended, never
// rewritten) and a log line per change. A nil *Audit logs only.
type Audit struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
}

// NewAudit appends to path ("" or "off": log lines only).
func NewAudit(path string, log *slog.Logger) *Audit {
	if path == "off" {
		path = ""
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Audit{path: path, log: log}
}

func (au *Audit) write(rec AuditRecord) {
	if au == nil {
		return
	}
	au.log.Info("api audit", "token_id", rec.TokenID, "tenant", rec.Tenant, "remote", rec.Remote, "method", rec.Method, "path", rec.Path, "status", rec.Status)
	if au.path == "" {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	au.mu.Lock()
	defer au.mu.Unlock()
	f, err := os.OpenFile(au.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		au.log.Error("api audit log not written", "path", au.path, "err", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		au.log.Error("api audit log not written", "path", au.path, "err", err)
	}
}

// last returns up to n of the newest records, newest last; it reads at
// most the file's last 8 MiB.
func (au *Audit) last(n int) ([]AuditRecord, error) {
	out := []AuditRecord{}
	if au == nil || au.path == "" {
		return out, nil
	}
	au.mu.Lock()
	defer au.mu.Unlock()
	f, err := os.Open(au.path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	const window = 8 << 20
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec AuditRecord
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &rec) == nil && !rec.Time.IsZero() {
			out = append(out, rec)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// audited runs a changing request's handler and records it.
func (a *API) audited(w http.ResponseWriter, r *http.Request, p *principal, run func(http.ResponseWriter)) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		run(w)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	run(sw)
	a.opts.Audit.write(AuditRecord{Time: time.Now().UTC(), TokenID: p.TokenID, Tenant: p.Tenant, Remote: remoteAddr(r).String(),
		Method: r.Method, Path: r.URL.Path, Status: sw.status})
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.admin() {
		return forbidden("the audit log is read with an admin token")
	}
	n := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 1000 {
			return badField("limit", "must be 1 to 1000")
		}
		n = k
	}
	recs, err := a.opts.Audit.last(n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[AuditRecord]{Items: recs})
}

// hsts adds Strict-Transport-Security to every answer over TLS (RFC 6797
// section 7.1: over secure transport only).
func hsts(h http.Handler, maxAge time.Duration) http.Handler {
	if maxAge <= 0 {
		return h
	}
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", v)
		}
		h.ServeHTTP(w, r)
	})
}
