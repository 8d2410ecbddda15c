// Package vmindex keeps the metadata of voicemail messages in the store
// (vm_messages), for the API: voicemail.Service gives it each mailbox's
// messages as they are on disk after every change.
package vmindex

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// Index is a voicemail.Index on a store.
type Index struct{ st *store.Store }

// New returns the index on st.
func New(st *store.Store) *Index { return &Index{st: st} }

var _ voicemail.Index = (*Index)(nil)

const cols = "msg_id, folder, folder_no, msgnum, callerid, origtime, duration, flag, category, dialplan_context, exten, callerchan"

// Replace implements voicemail.Index: the mailbox's rows are replaced in
// one transaction.
func (x *Index) Replace(ctx context.Context, tenant, vmContext, mailbox string, msgs []*voicemail.Message) error {
	tx, err := x.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("vmindex: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, x.st.Rebind("DELETE FROM vm_messages WHERE tenant = ? AND context = ? AND mailbox = ?"), tenant, vmContext, mailbox); err != nil {
		return fmt.Errorf("vmindex: %w", err)
	}
	if len(msgs) > 0 {
		stmt, err := tx.PrepareContext(ctx, x.st.Rebind("INSERT INTO vm_messages (tenant, context, mailbox, "+cols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
		if err != nil {
			return fmt.Errorf("vmindex: %w", err)
		}
		defer stmt.Close()
		for _, m := range msgs {
			_, no, _ := voicemail.FolderByName(m.Folder)
			if _, err := stmt.ExecContext(ctx, tenant, vmContext, mailbox, m.ID, m.Folder, no, m.Num, m.CallerID, m.OrigTime.Unix(),
				m.Duration, m.Flag, m.Category, m.Context, m.Exten, m.CallerChan); err != nil {
				return fmt.Errorf("vmindex: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("vmindex: commit: %w", err)
	}
	return nil
}

// List implements voicemail.Index. The rows carry no path: Path is the
// message's file name within its folder (msgNNNN).
func (x *Index) List(ctx context.Context, tenant, vmContext, mailbox, folder string) ([]*voicemail.Message, error) {
	q := "SELECT " + cols + " FROM vm_messages WHERE tenant = ? AND context = ? AND mailbox = ?"
	args := []any{tenant, vmContext, mailbox}
	if folder != "" {
		q += " AND folder = ?"
		args = append(args, folder)
	}
	rows, err := x.st.DB().QueryContext(ctx, x.st.Rebind(q+" ORDER BY folder_no, msgnum"), args...)
	if err != nil {
		return nil, fmt.Errorf("vmindex: %w", err)
	}
	defer rows.Close()
	out := []*voicemail.Message{}
	for rows.Next() {
		m := &voicemail.Message{}
		var no int
		var orig int64
		if err := rows.Scan(&m.ID, &m.Folder, &no, &m.Num, &m.CallerID, &orig, &m.Duration, &m.Flag, &m.Category, &m.Context, &m.Exten, &m.CallerChan); err != nil {
			return nil, fmt.Errorf("vmindex: %w", err)
		}
		m.OrigTime = time.Unix(orig, 0)
		m.OrigMailbox = mailbox
		m.Path = filepath.Join(m.Folder, fmt.Sprintf("msg%04d", m.Num))
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vmindex: %w", err)
	}
	return out, nil
}
