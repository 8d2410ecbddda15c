package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// The voicemail verbs: `entvoice mailbox` over /tenants/{t}/mailboxes.
// A mailbox is named "1001@context" (or "1001" in context default), as
// VoiceMail() names it.

var mailboxFields = []fieldFlag{
	{"pin", "pin", "PIN (digits; stored only as a salted hash)", "string"},
	{"fullname", "fullname", "the owner's name", "string"},
	{"email", "email", "address for new-message e-mails (several joined by |)", "string"},
	{"pager", "pager", "pager address (kept for reference)", "string"},
	{"user", "user", "SIP user whose phones get the MWI (default: the user named like the mailbox)", "string"},
	{"option", "options", "Asterisk mailbox option name=value (attach=yes, maxmsg=50...); name= removes it on update", "map"},
}

func newMailboxCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "mailbox", Short: "Manage voicemail mailboxes of a tenant and their messages"}
	f.register(cmd)
	base := tenantPath(tenantFlag(cmd), "/mailboxes")
	cols := []string{"mailbox", "context", "tenant", "fullname", "email", "user", "has_pin"}
	cmd.AddCommand(f.crudVerbs(crud{noun: "mailbox", arg: "MAILBOX[@CONTEXT]", keyField: "mailbox", fields: mailboxFields, base: base, cols: cols})...)

	msgPath := func(box string, rest ...string) (string, error) {
		p, err := base()
		p += "/" + seg(box) + "/messages"
		for _, r := range rest {
			p += "/" + seg(r)
		}
		return p, err
	}
	msgCols := []string{"id", "folder", "number", "callerid", "received", "duration", "flag"}
	messages := &cobra.Command{Use: "messages MAILBOX[@CONTEXT]", Short: "List a mailbox's messages", Args: cobra.ExactArgs(1),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := msgPath(a[0])
			q := url.Values{}
			if v, _ := cmd.Flags().GetString("folder"); v != "" {
				q.Set("folder", v)
			}
			return apiclient.Request{Method: http.MethodGet, Path: p, Query: q}, err
		}, msgCols)}
	messages.Flags().String("folder", "", "one folder (INBOX, Old, Work, Family, Friends, Urgent)")
	message := &cobra.Command{Use: "message MAILBOX[@CONTEXT] ID", Short: "Show a message's envelope", Args: cobra.ExactArgs(2),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := msgPath(a[0], a[1])
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, msgCols)}
	var out string
	audio := &cobra.Command{Use: "audio MAILBOX[@CONTEXT] ID", Short: "Save a message's recording (WAV) to --out (- for stdout)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := msgPath(a[0], a[1], "audio")
			if err != nil {
				return err
			}
			var wav []byte
			if err := f.call(apiclient.Request{Method: http.MethodGet, Path: p}, &wav); err != nil {
				return err
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(wav)
				return err
			}
			if err := os.WriteFile(out, wav, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes\n", out, len(wav))
			return nil
		}}
	audio.Flags().StringVarP(&out, "out", "O", "message.wav", "file to write")
	remove := &cobra.Command{Use: "delete-message MAILBOX[@CONTEXT] ID", Short: "Delete a message", Args: cobra.ExactArgs(2),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := msgPath(a[0], a[1])
			return apiclient.Request{Method: http.MethodDelete, Path: p}, err
		}, msgCols)}
	cmd.AddCommand(messages, message, audio, remove)
	return cmd
}

// optionMap reads name=value flags into the options object.
func optionMap(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--option %q: want name=value", kv)}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
