package link

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/provision"
)

// replicaFile holds the replica in data_dir/cluster.
const replicaFile = "config.json"

// maxReplicaChanges is the compaction threshold: past this many changes
// after its snapshot the node asks for a fresh snapshot.
const maxReplicaChanges = 5000

// replica is central's configuration as the node holds it: the last
// snapshot plus the changes after it, in memory and in
// data_dir/cluster/config.json (written atomically after each update). It
// is the node's provision.Source: Snapshot and Changes answer from it, and
// a new snapshot makes the next Changes return ErrResync.
type replica struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	base    *provision.Snapshot
	changes []provision.Change
	// resync makes the next Changes call answer ErrResync, after a new
	// snapshot replaced the base.
	resync bool
	// compactAsked is set once a fresh snapshot has been asked for, until
	// one arrives (or the link is redialled).
	compactAsked bool
	maxChanges   int
	subs         []chan struct{}
	persist      chan struct{}
}

// newReplica loads the persisted replica of dataDir, if any.
func newReplica(dataDir string, log *slog.Logger) *replica {
	r := &replica{path: filepath.Join(pki.Dir(dataDir), replicaFile), log: log, maxChanges: maxReplicaChanges, persist: make(chan struct{}, 1)}
	if err := r.load(); err != nil {
		log.Warn("persisted configuration unreadable; waiting for central", "err", err)
	}
	return r
}

// persisted is the replica file.
type persisted struct {
	Snapshot *wire.Snapshot `json:"snapshot"`
	Changes  []wire.Change  `json:"changes"`
}

func (r *replica) load() error {
	b, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Snapshot == nil {
		return nil
	}
	r.base = p.Snapshot.Decode()
	for _, c := range p.Changes {
		r.changes = append(r.changes, c.Decode())
	}
	r.log.Info("serving the persisted configuration until central answers", "revision", r.revisionLocked())
	return nil
}

// save writes the replica atomically.
func (r *replica) save() error {
	r.mu.Lock()
	if r.base == nil {
		r.mu.Unlock()
		return nil
	}
	p := persisted{Snapshot: wire.EncodeSnapshot(r.base), Changes: make([]wire.Change, len(r.changes))}
	for i, c := range r.changes {
		p.Changes[i] = wire.EncodeChange(c)
	}
	r.mu.Unlock()
	b, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(r.path, b, 0o600)
}

// persistLoop saves the replica after updates, and once more (if one is
// pending) when ctx ends.
func (r *replica) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			select {
			case <-r.persist:
				r.saveLogged()
			default:
			}
			return
		case <-r.persist:
			r.saveLogged()
		}
	}
}

func (r *replica) saveLogged() {
	if err := r.save(); err != nil {
		r.log.Warn("persisting the configuration failed", "err", err)
	}
}

func (r *replica) revisionLocked() int64 {
	if n := len(r.changes); n > 0 {
		return r.changes[n-1].Revision
	}
	if r.base != nil {
		return r.base.Revision
	}
	return 0
}

// Revision is the configuration revision the replica holds.
func (r *replica) Revision() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.revisionLocked()
}

var errNoConfig = errors.New("cluster: no configuration from central yet")

// Snapshot implements provision.Source from the replica.
func (r *replica) Snapshot(context.Context) (*provision.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base == nil {
		return nil, errNoConfig
	}
	r.resync = false
	return r.base, nil
}

// Changes implements provision.Source from the replica.
func (r *replica) Changes(_ context.Context, since int64, limit int) ([]provision.Change, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base == nil {
		return nil, errNoConfig
	}
	if r.resync || since < r.base.Revision {
		return nil, provision.ErrResync
	}
	var out []provision.Change
	for _, c := range r.changes {
		if c.Revision > since {
			out = append(out, c)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// Notify implements provision.Source. The channel starts with a value: a
// consumer that has just taken the Snapshot asks for the Changes after it
// at once (a replica loaded from disk holds changes after its snapshot,
// and with central away nothing else would wake the consumer).
func (r *replica) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	r.mu.Lock()
	r.subs = append(r.subs, ch)
	r.mu.Unlock()
	return ch
}

func (r *replica) wakeLocked() {
	for _, ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	select {
	case r.persist <- struct{}{}:
	default:
	}
}

// apply takes a message's configuration into the replica. It reports
// whether the replica should be compacted (a fresh snapshot asked for).
func (r *replica) apply(d *wire.Down) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.Snapshot != nil {
		r.base, r.changes, r.resync, r.compactAsked = d.Snapshot.Decode(), nil, true, false
		r.wakeLocked()
	}
	if len(d.Changes) > 0 && r.base != nil {
		rev := r.revisionLocked()
		for _, w := range d.Changes {
			if w.Revision > rev {
				r.changes = append(r.changes, w.Decode())
				rev = w.Revision
			}
		}
		r.wakeLocked()
	}
	if len(r.changes) > r.maxChanges && !r.compactAsked {
		r.compactAsked = true
		return true
	}
	return false
}

// relinked forgets a compaction asked on a previous connection.
func (r *replica) relinked() {
	r.mu.Lock()
	r.compactAsked = false
	r.mu.Unlock()
}
