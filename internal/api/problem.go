package api

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
)

// Problem types (RFC 9457 §3.1.1: URI references identifying the kind of
// problem). They are relative to the API's documentation.
const (
	typeValidation  = "/api/v1/problems/validation"
	typeConflict    = "/api/v1/problems/conflict"
	typeNotFound    = "/api/v1/problems/not-found"
	typeNoRoute     = "/api/v1/problems/no-route"
	typeBadRequest  = "/api/v1/problems/bad-request"
	typeAuth        = "/api/v1/problems/unauthorized"
	typeForbidden   = "/api/v1/problems/forbidden"
	typeUnavailable = "/api/v1/problems/unavailable"
	typeIdempotency = "/api/v1/problems/idempotency-key"
	typeInternal    = "/api/v1/problems/internal"
	typeOriginate   = "/api/v1/problems/originate-failed"
	typeTooLarge    = "/api/v1/problems/too-large"
)

// problem is an RFC 9457 problem details object. Errors is the extension
// member listing invalid fields.
type problem struct {
	Type     string                 `json:"type"`
	Title    string                 `json:"title"`
	Status   int                    `json:"status"`
	Detail   string                 `json:"detail,omitempty"`
	Instance string                 `json:"instance,omitempty"`
	Errors   []provision.FieldError `json:"errors,omitempty"`
	// Reason is AMI's OriginateResponse reason, for failed originates.
	Reason *int `json:"reason,omitempty"`
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

func badRequest(format string, args ...any) *problem {
	return &problem{Type: typeBadRequest, Title: "Bad Request", Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, args...)}
}

func badField(field, format string, args ...any) *problem {
	msg := fmt.Sprintf(format, args...)
	return &problem{Type: typeBadRequest, Title: "Bad Request", Status: http.StatusBadRequest, Detail: field + ": " + msg,
		Errors: []provision.FieldError{{Field: field, Message: msg}}}
}

func notFound(format string, args ...any) *problem {
	return &problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *problem {
	return &problem{Type: typeForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: fmt.Sprintf(format, args...)}
}

// unavailable reports a database that cannot be reached: connection
// refused or reset, a closed pool, a bad connection, a timeout.
func unavailable(err error) bool {
	var ne net.Error
	var op *net.OpError
	var ce *pgconn.ConnectError
	switch {
	case errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		// A connection cut mid-reply (pgx reports the short read as is).
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.As(err, &op), errors.As(err, &ce), errors.As(err, &ne):
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08 connection exceptions, 57P01-57P03 shutdown / cannot connect now.
		return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "57P")
	}
	msg := err.Error()
	return strings.Contains(msg, "database is closed") || strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "failed to connect")
}

// toProblem maps an error to its problem.
func toProblem(err error) *problem {
	var p *problem
	var ve *provision.ValidationError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ve):
		if ve.Conflict {
			return &problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: detailOf(ve), Errors: ve.Errors}
		}
		return &problem{Type: typeValidation, Title: "Unprocessable Content", Status: http.StatusUnprocessableEntity, Detail: detailOf(ve), Errors: ve.Errors}
	case errors.Is(err, provision.ErrNotFound):
		return notFound("%s", strings.TrimSuffix(err.Error(), ": "+provision.ErrNotFound.Error())+" not found")
	case errors.Is(err, control.ErrNoChannel):
		return notFound("no such channel")
	case errors.Is(err, control.ErrNotRegistered):
		return notFound("%s", err.Error())
	case errors.Is(err, control.ErrNodeNotLinked):
		return &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable, Detail: err.Error()}
	case errors.Is(err, control.ErrNodeFailed):
		// The node answered with an error (or its central instance could
		// not be reached): a gateway's failure, named.
		return &problem{Type: typeUnavailable, Title: "Bad Gateway", Status: http.StatusBadGateway, Detail: err.Error()}
	case errors.Is(err, context.Canceled):
		return &problem{Type: typeUnavailable, Title: "Client Closed Request", Status: 499}
	case unavailable(err) || errors.Is(err, context.DeadlineExceeded):
		return &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the database cannot be reached; retry later"}
	}
	return &problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError, Detail: "internal error; see the server log"}
}

func detailOf(ve *provision.ValidationError) string {
	if len(ve.Errors) == 1 {
		f := ve.Errors[0]
		if f.Line > 0 {
			return fmt.Sprintf("line %d: %s: %s", f.Line, f.Field, f.Message)
		}
		return f.Field + ": " + f.Message
	}
	return fmt.Sprintf("%d invalid fields or lines; see errors", len(ve.Errors))
}

// fail writes err as problem+json.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := toProblem(err)
	switch {
	case p.Status >= 500:
		a.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	default:
		a.log.Debug("api: request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="entvoice"`)
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p *problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("api: encode: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// maxJSONBody bounds JSON request bodies.
const maxJSONBody = 1 << 20

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over maxJSONBody, with errors naming the field. In a PATCH, a
// field set to null is refused too: every field of a PATCH body is
// optional, an absent one is kept, and null would silently keep it as well
// (except in bodies whose nulls mean something: nullsUnset).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/merge-patch+json") {
		return &problem{Type: typeBadRequest, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: want application/json", ct)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &problem{Type: typeTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is over %d bytes", maxJSONBody)}
	}
	if err != nil {
		return badRequest("reading the body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return badField(field, "must be %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return badField(name, "unknown field")
		case errors.Is(err, errEOF(err)):
			return badRequest("the body is empty: want a JSON object")
		default:
			return badRequest("malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return badRequest("unexpected data after the JSON object")
	}
	if _, ok := v.(nullsUnset); r.Method == http.MethodPatch && !ok {
		return refuseNulls(body)
	}
	return nil
}

// nullsUnset is a PATCH body whose null values mean something (a service
// switch set to null inherits again).
type nullsUnset interface{ nullsUnset() }

// refuseNulls names the first (in key order) top-level field of a JSON
// object set to null.
func refuseNulls(body []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil // not an object: the typed decode already said what it is
	}
	names := make([]string, 0, len(fields))
	for k, raw := range fields {
		if string(bytes.TrimSpace(raw)) == "null" {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return badField(names[0], "must not be null: omit the field to keep its value")
}

func errEOF(err error) error {
	if err != nil && (err.Error() == "EOF" || err.Error() == "unexpected EOF") {
		return err
	}
	return errors.New("not EOF")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "a number"
	}
}
