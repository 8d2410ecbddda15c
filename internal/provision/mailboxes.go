package provision

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/voicemail"
)

// Mailbox is a provisioned voicemail mailbox (a row of Asterisk's
// realtime voicemail table, scoped by tenant). Its PIN is kept only as a
// salted hash (voicemail.HashPIN), never returned.
type Mailbox struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	// Context is the voicemail context ("default"), Mailbox the number:
	// VoiceMail(1001@default).
	Context string `json:"context"`
	Mailbox string `json:"mailbox"`
	PINHash string `json:"-"`
	// HasPIN says whether a PIN is set (it is never shown).
	HasPIN   bool   `json:"has_pin"`
	FullName string `json:"fullname"`
	// Email receives a notification of each new message ("|" separates
	// several addresses).
	Email string `json:"email"`
	Pager string `json:"pager"`
	// User is the SIP user whose phones get the mailbox's MWI; "" is the
	// user named like the mailbox.
	User string `json:"user"`
	// Options are Asterisk mailbox options by name (voicemail.conf's
	// fifth field): attach, maxmsg, saycid, ...
	Options   map[string]string `json:"options"`
	Revision  int64             `json:"revision"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// EntityMailbox is a mailbox in the change feed.
const EntityMailbox Entity = "mailbox"

// mailboxWire is a Mailbox in the change feed: with its PIN hash, which a
// node needs to check the PIN.
type mailboxWire struct {
	Mailbox
	PINHash string `json:"pin_hash"`
}

const mailboxCols = "id, tenant, context, mailbox, pin_hash, fullname, email, pager, sip_user, options, revision, created_at, updated_at"

func (r *Repo) scanMailbox(s rowScanner) (Mailbox, error) {
	var m Mailbox
	var opts string
	var created, updated storeTime
	if err := s.Scan(&m.ID, &m.Tenant, &m.Context, &m.Mailbox, &m.PINHash, &m.FullName, &m.Email, &m.Pager, &m.User, &opts, &m.Revision, &created, &updated); err != nil {
		return m, err
	}
	m.Options = map[string]string{}
	if opts != "" {
		if err := json.Unmarshal([]byte(opts), &m.Options); err != nil {
			return m, fmt.Errorf("options: %w", err)
		}
	}
	m.HasPIN = m.PINHash != ""
	m.CreatedAt, m.UpdatedAt = created.Time, updated.Time
	return m, nil
}

func (r *Repo) queryMailboxes(ctx context.Context, q querier, tail string, args ...any) ([]Mailbox, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+mailboxCols+" FROM vm_mailboxes "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: mailboxes: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Mailbox{}
	for rows.Next() {
		m, err := r.scanMailbox(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: mailboxes scan: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: mailboxes: %w", err)
	}
	return out, nil
}

func (r *Repo) getMailbox(ctx context.Context, q querier, tenant, vmContext, box string, lock bool) (Mailbox, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	m, err := r.scanMailbox(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+mailboxCols+" FROM vm_mailboxes WHERE tenant = ? AND context = ? AND mailbox = ?"+tail), tenant, vmContext, box))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("mailbox %s@%s in tenant %q: %w", box, vmContext, tenant, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("provision: mailbox %s@%s: %w", box, vmContext, err)
	}
	return m, nil
}

// GetMailbox returns a tenant's mailbox.
func (r *Repo) GetMailbox(ctx context.Context, tenant, vmContext, box string) (Mailbox, error) {
	return r.getMailbox(ctx, r.st.DB(), tenant, vmContext, box, false)
}

// ListMailboxes returns a tenant's mailboxes with id > after in id order,
// at most limit (<= 0: all).
func (r *Repo) ListMailboxes(ctx context.Context, tenant string, after int64, limit int) ([]Mailbox, error) {
	if limit <= 0 {
		return r.queryMailboxes(ctx, r.st.DB(), "WHERE tenant = ? AND id > ? ORDER BY id", tenant, after)
	}
	return r.queryMailboxes(ctx, r.st.DB(), "WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?", tenant, after, limit)
}

// validateMailbox checks every field; a nil pin is not being set.
func validateMailbox(e *errs, m *Mailbox, pin *string) {
	if err := voicemail.ValidNumber(m.Context); err != nil {
		e.add("context", "%v", err)
	}
	if err := voicemail.ValidNumber(m.Mailbox); err != nil {
		e.add("mailbox", "%v", err)
	}
	if pin != nil {
		if err := voicemail.ValidPIN(*pin, 1); err != nil {
			e.add("pin", "%v", err)
		}
	}
	for _, f := range []struct{ name, v string }{{"fullname", m.FullName}, {"pager", m.Pager}} {
		if !noControl(f.v) || len(f.v) > 200 {
			e.add(f.name, "at most 200 characters, no control characters")
		}
	}
	if m.Email != "" {
		for a := range strings.SplitSeq(m.Email, "|") {
			if _, err := mail.ParseAddress(strings.TrimSpace(a)); err != nil || strings.ContainsAny(a, "<>\r\n") {
				e.add("email", "%q is not an e-mail address (several are separated by |)", a)
			}
		}
	}
	if m.User != "" && !userNameRe.MatchString(m.User) {
		e.add("user", "%q is not a SIP user name", m.User)
	}
	if _, err := voicemail.ParseOptions(voicemail.DefaultSettings(), m.Options); err != nil {
		for _, one := range strings.Split(err.Error(), "\n") {
			e.add("options", "%s", one)
		}
	}
	if tz := m.Options["tz"]; tz != "" {
		e.add("options", "tz=%s: zones come from voicemail.conf's [zonemessages]; a provisioned mailbox uses the node's local time", tz)
	}
}

func mailboxDefaults(m *Mailbox) {
	if m.Context == "" {
		m.Context = voicemail.DefaultContext
	}
	if m.Options == nil {
		m.Options = map[string]string{}
	}
}

func (r *Repo) mailboxArgs(m *Mailbox) ([]any, error) {
	opts, err := json.Marshal(m.Options)
	if err != nil {
		return nil, fmt.Errorf("provision: options: %w", err)
	}
	return []any{m.Tenant, m.Context, m.Mailbox, m.PINHash, m.FullName, m.Email, m.Pager, m.User, string(opts),
		m.Revision, r.st.TimeArg(m.CreatedAt), r.st.TimeArg(m.UpdatedAt)}, nil
}

func mailboxKey(m Mailbox) string { return m.Context + "/" + m.Mailbox }

func mailboxChange(m Mailbox) change {
	return change{entity: EntityMailbox, tenant: m.Tenant, key: mailboxKey(m), data: mailboxWire{m, m.PINHash}}
}

func mailboxDeleted(m Mailbox) change {
	return change{entity: EntityMailbox, tenant: m.Tenant, key: mailboxKey(m), deleted: true,
		data: mailboxWire{Mailbox: Mailbox{ID: m.ID, Tenant: m.Tenant, Context: m.Context, Mailbox: m.Mailbox}}}
}

func mailboxUniqueErr(err error, m *Mailbox) error {
	if _, ok := isUnique(err); ok {
		return conflict("mailbox", "mailbox %s@%s already exists in tenant %q", m.Mailbox, m.Context, m.Tenant)
	}
	if isForeignKey(err) {
		return fmt.Errorf("tenant %q: %w", m.Tenant, ErrNotFound)
	}
	return fmt.Errorf("provision: mailbox %s@%s: %w", m.Mailbox, m.Context, err)
}

// CreateMailbox validates and stores a new mailbox with the hash of pin.
func (r *Repo) CreateMailbox(ctx context.Context, m Mailbox, pin string) (Mailbox, error) {
	if m.Tenant == "" {
		m.Tenant = DefaultTenant
	}
	mailboxDefaults(&m)
	var e errs
	validateMailbox(&e, &m, &pin)
	if err := e.err(); err != nil {
		return m, err
	}
	h, err := voicemail.HashPIN(pin)
	if err != nil {
		return m, err
	}
	m.PINHash, m.HasPIN = h, true
	err = r.write(ctx, func(tx *wtx) error {
		if _, err := r.getTenant(ctx, tx, m.Tenant, true); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		m.Revision, m.CreatedAt = rev, now()
		m.UpdatedAt = m.CreatedAt
		args, err := r.mailboxArgs(&m)
		if err != nil {
			return err
		}
		cols := strings.TrimPrefix(mailboxCols, "id, ")
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
		if err := tx.QueryRowContext(ctx, r.st.Rebind("INSERT INTO vm_mailboxes ("+cols+") VALUES ("+ph+") RETURNING id"), args...).Scan(&m.ID); err != nil {
			return mailboxUniqueErr(err, &m)
		}
		return tx.one(ctx, rev, mailboxChange(m))
	})
	return m, err
}

// UpdateMailbox applies fn to the stored mailbox and stores the result in
// one transaction; a non-nil pin replaces the PIN. fn must not change ID,
// Tenant, Context or Mailbox.
func (r *Repo) UpdateMailbox(ctx context.Context, tenant, vmContext, box string, pin *string, fn func(m *Mailbox) error) (Mailbox, error) {
	var m Mailbox
	err := r.write(ctx, func(tx *wtx) error {
		var err error
		if m, err = r.getMailbox(ctx, tx, tenant, vmContext, box, true); err != nil {
			return err
		}
		id, hash := m.ID, m.PINHash
		if fn != nil {
			if err := fn(&m); err != nil {
				return err
			}
		}
		m.ID, m.Tenant, m.Context, m.Mailbox, m.PINHash = id, tenant, vmContext, box, hash
		mailboxDefaults(&m)
		var e errs
		validateMailbox(&e, &m, pin)
		if err := e.err(); err != nil {
			return err
		}
		if pin != nil {
			if m.PINHash, err = voicemail.HashPIN(*pin); err != nil {
				return err
			}
		}
		m.HasPIN = m.PINHash != ""
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		m.Revision, m.UpdatedAt = rev, now()
		args, err := r.mailboxArgs(&m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE vm_mailboxes SET tenant = ?, context = ?, mailbox = ?, pin_hash = ?, fullname = ?, email = ?, pager = ?, sip_user = ?, options = ?, revision = ?, created_at = ?, updated_at = ? WHERE id = ?"), append(args, id)...); err != nil {
			return mailboxUniqueErr(err, &m)
		}
		return tx.one(ctx, rev, mailboxChange(m))
	})
	return m, err
}

// DeleteMailbox deletes a mailbox (its messages stay on the nodes' disks,
// as Asterisk keeps a spool whose mailbox left voicemail.conf).
func (r *Repo) DeleteMailbox(ctx context.Context, tenant, vmContext, box string) error {
	return r.write(ctx, func(tx *wtx) error {
		m, err := r.getMailbox(ctx, tx, tenant, vmContext, box, true)
		if err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM vm_mailboxes WHERE id = ?"), m.ID); err != nil {
			return fmt.Errorf("provision: delete mailbox %s@%s: %w", box, vmContext, err)
		}
		return tx.one(ctx, rev, mailboxDeleted(m))
	})
}

// VoicemailBox is the voicemail store's view of a provisioned mailbox
// (the node's realtime hands these to voicemail.Service), its options
// over base (the node's voicemail.conf [general], as Asterisk's realtime
// mailboxes inherit it).
func (m Mailbox) VoicemailBox(base voicemail.Settings) (*voicemail.Mailbox, error) {
	o, err := voicemail.ParseOptions(base, m.Options)
	if err != nil {
		return nil, fmt.Errorf("mailbox %s@%s of tenant %s: %w", m.Mailbox, m.Context, m.Tenant, err)
	}
	return &voicemail.Mailbox{Tenant: m.Tenant, Context: m.Context, Number: m.Mailbox, PINHash: m.PINHash, FullName: m.FullName,
		Email: m.Email, Pager: m.Pager, User: m.User, Options: o}, nil
}
