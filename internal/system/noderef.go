//go:build !central

package system

import "github.com/entvoice/entvoice/internal/node"

// nodePart is the node half of a Process.
type nodePart struct {
	// Node is the PBX (serve and node; nil in server).
	Node *node.Node
}
