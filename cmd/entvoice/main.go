// Command entvoice is the entVoice binary: the all-in-one PBX (serve) and
// the command-line tools that work on its data.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "entvoice:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "entvoice",
		Short:         "entVoice: an open telephony platform (SIP PBX, Asterisk-compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(nodeCommands()...)
	root.AddCommand(newServer(), newNodeToken(), newVersion(), newCDR())
	root.AddCommand(newAPIVerbs()...)
	root.AddCommand(newBillingVerbs()...)
	root.AddCommand(newSecurityVerbs()...)
	return root
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "entvoice %s\n", version)
		},
	}
}
