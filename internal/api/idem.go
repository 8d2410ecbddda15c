package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// idempotent runs a POST carrying an Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header §2): the first request with
// a key reserves it, runs, and stores its response; a repeat with the
// same body gets the stored response again; a repeat with another body is
// refused with 422; a repeat while the first still runs gets 409.
// Keys are per token and kept for IdempotencyTTL. 5xx responses are not
// stored, so the client can retry.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, p *principal, h handlerFunc) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		a.fail(w, r, badField("Idempotency-Key", "must be at most 255 characters"))
		return
	}
	limit := int64(maxJSONBody)
	if isImport(r) {
		limit = a.opts.MaxImportBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		a.fail(w, r, &problem{Type: typeTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge, Detail: err.Error()})
		return
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "%s %s?%s\n%s\n", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"))
	sum.Write(body)
	hash := hex.EncodeToString(sum.Sum(nil))
	ctx := r.Context()
	st := a.st
	now := time.Now()
	if _, err := st.DB().ExecContext(ctx, st.Rebind("DELETE FROM idempotency_keys WHERE token_id = ? AND idem_key = ? AND expires_at < ?"), p.TokenID, key, st.TimeArg(now)); err != nil {
		a.fail(w, r, err)
		return
	}
	_, err = st.DB().ExecContext(ctx, st.Rebind("INSERT INTO idempotency_keys (token_id, idem_key, request_hash, status, body, expires_at) VALUES (?, ?, ?, 0, '', ?)"),
		p.TokenID, key, hash, st.TimeArg(now.Add(a.opts.IdempotencyTTL)))
	if err != nil {
		if !isUniqueViolation(err) {
			a.fail(w, r, err)
			return
		}
		a.replay(w, r, p, key, hash)
		return
	}
	rec := &recorder{header: http.Header{}}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := h(rec, r, p); err != nil {
		a.fail(rec, r, err)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	res := struct {
		StatusCode int
		Header     http.Header
	}{rec.status, rec.header}
	if res.StatusCode >= 500 {
		_, _ = st.DB().ExecContext(ctx, st.Rebind("DELETE FROM idempotency_keys WHERE token_id = ? AND idem_key = ?"), p.TokenID, key)
	} else if _, err := st.DB().ExecContext(ctx, st.Rebind("UPDATE idempotency_keys SET status = ?, content_type = ?, location = ?, body = ? WHERE token_id = ? AND idem_key = ?"),
		res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Location"), rec.body.String(), p.TokenID, key); err != nil {
		a.log.Error("api: idempotent response not stored", "err", err)
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(rec.body.Bytes())
}

// recorder buffers a response so that it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (a *API) replay(w http.ResponseWriter, r *http.Request, p *principal, key, hash string) {
	st := a.st
	var storedHash, ctype, loc, body string
	var status int
	var expires storeTime
	err := st.DB().QueryRowContext(r.Context(), st.Rebind("SELECT request_hash, status, content_type, location, body, expires_at FROM idempotency_keys WHERE token_id = ? AND idem_key = ?"),
		p.TokenID, key).Scan(&storedHash, &status, &ctype, &loc, &body, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		a.fail(w, r, &problem{Type: typeIdempotency, Title: "Conflict", Status: http.StatusConflict, Detail: "a request with this Idempotency-Key just failed; retry"})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	switch {
	case storedHash != hash:
		a.fail(w, r, &problem{Type: typeIdempotency, Title: "Unprocessable Content", Status: http.StatusUnprocessableEntity,
			Detail: "this Idempotency-Key was used with a different request; use a new key for a new request",
			Errors: []provision.FieldError{{Field: "Idempotency-Key", Message: "already used with a different request body"}}})
	case status == 0:
		// A reservation older than abandonAfter belongs to a request whose
		// server went away before storing its response: free the key.
		if time.Since(expires.Time.Add(-a.opts.IdempotencyTTL)) > abandonAfter {
			_, _ = st.DB().ExecContext(r.Context(), st.Rebind("DELETE FROM idempotency_keys WHERE token_id = ? AND idem_key = ? AND status = 0"), p.TokenID, key)
		}
		a.fail(w, r, &problem{Type: typeIdempotency, Title: "Conflict", Status: http.StatusConflict,
			Detail: "a request with this Idempotency-Key is still being processed; retry later"})
	default:
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		if loc != "" {
			w.Header().Set("Location", loc)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// abandonAfter is how long a key may stay reserved without a response.
const abandonAfter = 2 * time.Minute

type storeTime = store.NullTime

func isUniqueViolation(err error) bool {
	return provision.IsUniqueViolation(err)
}

// PruneIdempotencyKeys deletes expired idempotency keys; the server calls
// it now and then.
func (a *API) PruneIdempotencyKeys(ctx context.Context) error {
	if _, err := a.st.DB().ExecContext(ctx, a.st.Rebind("DELETE FROM idempotency_keys WHERE expires_at < ?"), a.st.TimeArg(time.Now())); err != nil {
		return fmt.Errorf("api: prune idempotency keys: %w", err)
	}
	return nil
}
