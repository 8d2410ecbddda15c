// Package apiclient is the Go client of entVoice's REST API that the CLI
// uses: bearer authentication, JSON bodies, and RFC 9457 problem details
// turned into errors that say what to fix.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one entVoice API server.
type Client struct {
	// Base is the server URL, e.g. http://127.0.0.1:8080.
	Base  string
	Token string
	HTTP  *http.Client
}

// New returns a client with a sensible timeout.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// FieldError is one invalid field of a validation problem.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

// Problem is an RFC 9457 problem details document returned by the API.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors,omitempty"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Title)
	// With a list of bad fields the detail only summarises them.
	if p.Detail != "" && p.Detail != p.Title && len(p.Errors) == 0 {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, e := range p.Errors {
		b.WriteString("\n  ")
		if e.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", e.Line)
		}
		if e.Field != "" {
			b.WriteString(e.Field)
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// ErrUnreachable wraps failures to reach the server at all.
var ErrUnreachable = errors.New("API server unreachable")

// Request is one API call.
type Request struct {
	Method string
	Path   string // below /api/v1, e.g. "/tenants"
	Query  url.Values
	// Body is marshalled as JSON unless it is an io.Reader (sent as is,
	// with ContentType).
	Body        any
	ContentType string
	Header      http.Header
}

// Do performs r and decodes a JSON response into out (when out is not
// nil); a *[]byte out receives the raw body. Non-2xx responses are returned
// as *Problem.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	u := c.Base + "/api/v1" + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	var body io.Reader
	ctype := r.ContentType
	switch b := r.Body.(type) {
	case nil:
	case io.Reader:
		body = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(buf)
		ctype = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return fmt.Errorf("bad server URL %q: %w", c.Base, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("%w at %s: %v (is `entvoice serve` running? set --server or ENTVOICE_SERVER)", ErrUnreachable, c.Base, err)
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(data, p) != nil || p.Title == "" {
			p.Title = http.StatusText(resp.StatusCode)
			p.Detail = strings.TrimSpace(string(data))
		}
		p.Status = resp.StatusCode
		return p
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = data
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
