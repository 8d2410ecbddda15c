package main

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// The security verbs: the ban list SIP, AMI and the API share, the drop
// counters, and the audit log of API changes (admin tokens).

func newSecurityVerbs() []*cobra.Command {
	return []*cobra.Command{newBanCmd(), newSecurityCmd(), newAuditCmd()}
}

func newBanCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "ban", Short: "Show, add and lift bans (shared by SIP, AMI and the API)"}
	f.register(cmd)
	cols := []string{"address", "service", "reason", "since", "until", "hits"}
	list := &cobra.Command{Use: "list", Short: "List the bans in force", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/security/bans"}, nil
		}, cols)}
	var reason string
	var seconds int
	add := &cobra.Command{Use: "add ADDRESS", Short: "Ban an address", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodPost, Path: "/security/bans",
				Body: map[string]any{"address": a[0], "reason": reason, "seconds": seconds}}, nil
		}, cols)}
	add.Flags().StringVar(&reason, "reason", "", "why (shown in the list)")
	add.Flags().IntVar(&seconds, "seconds", 3600, "how long")
	remove := &cobra.Command{Use: "remove ADDRESS", Short: "Lift the ban of an address", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodDelete, Path: "/security/bans/" + seg(a[0])}, nil
		}, cols)}
	clearAll := &cobra.Command{Use: "clear", Short: "Lift every ban", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodDelete, Path: "/security/bans"}, nil
		}, []string{"lifted"})}
	cmd.AddCommand(list, add, remove, clearAll)
	return cmd
}

func newSecurityCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "security", Short: "Bans and drop counters of the security edge"}
	f.register(cmd)
	show := &cobra.Command{Use: "show", Short: "Bans and counters", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/security"}, nil
		}, []string{"bans", "counters"})}
	reset := &cobra.Command{Use: "reset-counters", Short: "Set the drop counters back to zero", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodDelete, Path: "/security/counters"}, nil
		}, nil)}
	cmd.AddCommand(show, reset)
	return cmd
}

func newAuditCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "audit", Short: "The audit log of API changes"}
	f.register(cmd)
	var limit int
	list := &cobra.Command{Use: "list", Short: "The newest changes: who, what, when, from where", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/audit", Query: url.Values{"limit": {strconv.Itoa(limit)}}}, nil
		}, []string{"time", "token_id", "tenant", "remote", "method", "path", "status"})}
	list.Flags().IntVar(&limit, "limit", 100, "how many (at most 1000)")
	cmd.AddCommand(list)
	return cmd
}
