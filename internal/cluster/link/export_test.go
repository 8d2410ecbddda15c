package link

import (
	"context"
	"crypto/tls"
	"maps"
)

// Internals the tests of package link_test look at.

// ConnectOnce runs one session and returns why it ended.
func (l *Link) ConnectOnce(ctx context.Context) error { return l.connect(ctx) }

// SetMaxChanges sets the compaction threshold (before Start).
func (l *Link) SetMaxChanges(n int) { l.maxChanges = n }

// ReplicaState is the replica's snapshot revision, revision and number of
// changes.
func (l *Link) ReplicaState() (base, rev int64, changes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base != nil {
		base = l.base.Revision
	}
	return base, l.revisionLocked(), len(l.changes)
}

// FromTail is how many CDRs were shipped from the writer's hand-off.
func (l *Link) FromTail() int64 { return l.fromTail.Load() }

// Nodes is the enrolled-node list as last heard from central.
func (p *PeerTrust) Nodes() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.nodes)
}

// Certificate is the node's key pair as the handshakes use it.
func (p *PeerTrust) Certificate() (*tls.Certificate, error) { return p.certificate() }
