//go:build central

package system

// nodePart is the node half of a Process: none in a central-only build.
type nodePart struct{}
