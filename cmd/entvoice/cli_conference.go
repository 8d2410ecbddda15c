package main

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// newConferenceCmd is `entvoice conference`: the ConfBridge conferences of
// the node beside the API (app_confbridge's CLI and AMI actions).
func newConferenceCmd() *cobra.Command {
	var f apiFlags
	var tenant string
	cmd := &cobra.Command{Use: "conference", Short: "List ConfBridge conferences and their participants; mute, unmute and kick participants"}
	f.register(cmd)
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "the tenant whose conferences (admin tokens; a tenant token acts in its own)")
	query := func() url.Values {
		if tenant == "" {
			return nil
		}
		return url.Values{"tenant": {tenant}}
	}
	list := &cobra.Command{Use: "list", Short: "List live conferences", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/conferences", Query: query()}, nil
		}, []string{"name", "tenant", "parties", "marked", "locked", "muted", "recording"})}
	parts := &cobra.Command{Use: "participants CONFERENCE", Short: "List a conference's participants", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/conferences/" + seg(a[0]) + "/participants", Query: query()}, nil
		}, []string{"channel", "callerid_num", "admin", "marked", "waiting", "muted", "talking", "answered_seconds"})}
	act := func(verb, short string) *cobra.Command {
		return &cobra.Command{Use: verb + " CONFERENCE CHANNEL", Short: short, Args: cobra.ExactArgs(2),
			RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
				return apiclient.Request{Method: http.MethodPost, Path: "/conferences/" + seg(a[0]) + "/" + verb, Query: query(),
					Body: map[string]any{"channel": a[1]}}, nil
			}, nil)}
	}
	cmd.AddCommand(list, parts,
		act("mute", "Mute a participant (CHANNEL: its channel name or leading part, all, or participants)"),
		act("unmute", "Unmute a participant"),
		act("kick", "Remove a participant (CHANNEL: its channel name, all, or participants)"))
	return cmd
}
