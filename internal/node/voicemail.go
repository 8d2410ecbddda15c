package node

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/voicemail"
	"github.com/entvoice/entvoice/internal/voicemail/vmindex"
)

// newVoicemail builds the node's voicemail store: voicemail.conf (errors
// name file and line), the spool in data_dir/voicemail, the message index
// in the node's store, and the configured SMTP relay.
func newVoicemail(cfg *config.Config, bus *events.Bus, st *store.Store, log *slog.Logger) (*voicemail.Service, error) {
	conf := voicemail.DefaultConfig()
	if cfg.Voicemail != "" {
		var err error
		if conf, err = voicemail.LoadConfig(cfg.Voicemail); err != nil {
			return nil, err
		}
	}
	var mailer voicemail.Mailer
	if r := cfg.SMTP; r.Relay != "" {
		mailer = &voicemail.SMTP{Addr: r.Relay, Username: r.Username, Password: r.Password, HELO: r.HELO, Timeout: r.Timeout.Duration}
	}
	vm, err := voicemail.New(voicemail.Options{Root: filepath.Join(cfg.DataDir, "voicemail"), Config: conf, Bus: bus,
		Index: vmindex.New(st), Mailer: mailer, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return vm, nil
}

// mwiSource is the voicemail store as the SIP side's MWI sees it.
type mwiSource struct{ vm *voicemail.Service }

func (m mwiSource) Mailboxes(tenant, endpoint string) []string {
	boxes := m.vm.ForUser(tenant, endpoint)
	out := make([]string, len(boxes))
	for i, b := range boxes {
		out[i] = b.ID()
	}
	return out
}

func (m mwiSource) Endpoints(tenant, mailbox string) []string {
	number, ctx := voicemail.ParseID(mailbox)
	if b, ok := m.vm.Lookup(tenant, ctx, number); ok {
		return []string{b.Notifies()}
	}
	return nil
}

func (m mwiSource) State(tenant, mailbox string) events.Mailbox { return m.vm.State(tenant, mailbox) }

// provisionedMailboxes turns the realtime mailboxes into the voicemail
// store's, over voicemail.conf's [general]; a row whose options no longer
// parse is skipped with a warning.
func provisionedMailboxes(vm *voicemail.Service, rows map[string]provision.Mailbox, log *slog.Logger) []*voicemail.Mailbox {
	out := make([]*voicemail.Mailbox, 0, len(rows))
	for _, row := range rows {
		m, err := row.VoicemailBox(vm.Config().Defaults)
		if err != nil {
			log.Warn("provisioned mailbox skipped", "err", err)
			continue
		}
		out = append(out, m)
	}
	return out
}
