package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

type env struct {
	t      *testing.T
	st     *store.Store
	repo   *provision.Repo
	api    *API
	srv    *httptest.Server
	client *http.Client
	admin  string
	ctl    *fakeController
}

func knownApp(app string) bool {
	switch strings.ToLower(app) {
	case "answer", "playback", "dial", "hangup", "noop", "voicemail", "goto", "set", "wait":
		return true
	}
	return false
}

func newEnv(t *testing.T, opts store.Options) *env {
	t.Helper()
	st := storetest.Open(t, opts)
	repo, err := provision.New(context.Background(), st, provision.Options{KnownApp: knownApp, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctl := &fakeController{}
	ca, err := pki.LoadOrCreateCA("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Store: st, Provision: repo, Controller: ctl, Logger: storetest.Logger(t),
		Nodes: &hub.Admin{Registry: hub.NewRegistry(st), CA: ca}, Billing: billing.New(billing.Options{Store: st})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	client := &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	var out bytes.Buffer
	created, err := Bootstrap(context.Background(), repo, func(string) string { return "" }, &out, nil)
	if err != nil || !created {
		t.Fatalf("Bootstrap: %v %v", created, err)
	}
	admin := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), " ")+1:])
	return &env{t: t, st: st, repo: repo, api: a, srv: srv, client: client, admin: admin, ctl: ctl}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

func (r resp) problem(t *testing.T) problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d content-type %q, want application/problem+json: %s", r.status, ct, r.body)
	}
	var p problem
	r.json(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.status)
	}
	return p
}

// do sends a request; body is JSON-encoded unless it is a string (sent
// as is, with contentType from hdr).
func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

// must sends a request and fails unless the status is want.
func (e *env) must(want int, method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	r := e.do(method, path, token, body, hdr...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// tenantToken creates a tenant and a token for it.
func (e *env) tenantToken(id, domain string) string {
	e.t.Helper()
	e.must(201, "POST", "/api/v1/tenants", e.admin, map[string]any{"id": id, "name": strings.ToUpper(id), "domain": domain})
	var tok struct {
		Token string `json:"token"`
	}
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"name": id + " app", "tenant": id}).json(e.t, &tok)
	return tok.Token
}

// fakeController is an in-test control.Controller over a fixed channel
// list, scoped by tenant as control.Local must be.
type fakeController struct {
	mu       sync.Mutex
	chans    []control.ChannelInfo
	hungup   []string
	original []control.OriginateRequest
}

func (f *fakeController) add(name, tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chans = append(f.chans, control.ChannelInfo{Snapshot: events.Snapshot{Channel: name, Tenant: tenant, UniqueID: name + "-id", StateDesc: "Up", State: 6},
		Application: "Dial", Duration: 3 * time.Second})
}

func (f *fakeController) Channels(_ context.Context, tenant string) ([]control.ChannelInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []control.ChannelInfo
	for _, c := range f.chans {
		if tenant == "" || c.Tenant == tenant {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeController) Originate(_ context.Context, r control.OriginateRequest) (control.OriginateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.original = append(f.original, r)
	if strings.HasSuffix(r.Channel, "busy") {
		return control.OriginateResult{Reason: 5}, nil
	}
	return control.OriginateResult{Reason: 4, Channel: r.Channel + "-00000001", UniqueID: "u1"}, nil
}

func (f *fakeController) Hangup(_ context.Context, tenant, channel string, _ int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.chans {
		if c.Channel == channel && (tenant == "" || c.Tenant == tenant) {
			f.chans = append(f.chans[:i], f.chans[i+1:]...)
			f.hungup = append(f.hungup, channel)
			return nil
		}
	}
	return control.ErrNoChannel
}

func (f *fakeController) Redirect(context.Context, string, string, string, string, string, string) error {
	return control.ErrNoChannel
}

func (f *fakeController) GetVar(context.Context, string, string, string) (string, error) {
	return "", control.ErrNoChannel
}

func (f *fakeController) Locate(_ context.Context, _, user string) (control.Location, error) {
	return control.Location{}, fmt.Errorf("%w: %s", control.ErrNotRegistered, user)
}

func (f *fakeController) SetVar(context.Context, string, string, string, string) error {
	return control.ErrNoChannel
}
