package provision

import "errors"

// ErrResync is returned by Source.Changes when the revision asked for is
// older than the retained change feed: the node must take a new Snapshot.
var ErrResync = errors.New("provision: revision older than the change feed; take a new snapshot")
