//go:build central

package main

import "github.com/spf13/cobra"

// nodeCommands are the commands that run a PBX: none in a central-only
// build, which keeps the central-side `node list|revoke`.
func nodeCommands() []*cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Enrolled nodes (on the central server's store)"}
	cmd.AddCommand(nodeAdmin()...)
	return []*cobra.Command{cmd}
}
