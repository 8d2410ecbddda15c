package hub

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/pending"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
)

// Commands down the link: central's Remote (the control.Controller of the
// API and of central's AMI) sends a wire.Command to a node, whose own
// Controller runs it and sends a wire.Reply up (internal/cluster/link).

// commandTimeout bounds a command without a deadline of its own (an
// originate waits for the first leg to answer: up to its 30 s timeout).
const commandTimeout = 90 * time.Second

// Remote is the cluster-wide control.Controller: listing fans out to every
// linked node, a channel command goes to the node that has the channel,
// an originate to the node it names (or the only one linked).
type Remote struct {
	mu    sync.Mutex
	links map[string]*nodeCmds
	peers func(context.Context) []instancePeer
}

var _ control.Controller = (*Remote)(nil)

// NewRemote returns a Remote with no node linked.
func NewRemote() *Remote { return &Remote{links: map[string]*nodeCmds{}} }

// nodeCmds is one link's command queue and the commands waiting for the
// node's reply.
type nodeCmds struct {
	name    string
	out     chan *wire.Command
	done    chan struct{} // closed when the link ends
	pending pending.Table[*wire.Reply]
}

func (r *Remote) attach(name string) *nodeCmds {
	nc := &nodeCmds{name: name, out: make(chan *wire.Command), done: make(chan struct{})}
	r.mu.Lock()
	r.links[name] = nc
	r.mu.Unlock()
	return nc
}

// detach ends a link's commands: those waiting fail.
func (r *Remote) detach(nc *nodeCmds) {
	r.mu.Lock()
	if r.links[nc.name] == nc {
		delete(r.links, nc.name)
	}
	r.mu.Unlock()
	close(nc.done)
}

// call sends cmd down nc's link and waits for the node's reply.
func (r *Remote) call(ctx context.Context, nc *nodeCmds, cmd *wire.Command) (*wire.Reply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, commandTimeout)
		defer cancel()
	}
	req := nc.pending.Open()
	defer req.Close()
	cmd.ID = req.ID
	select {
	case nc.out <- cmd:
	case <-nc.done:
		return nil, fmt.Errorf("%w: %s", control.ErrNodeNotLinked, nc.name)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep, err := req.Wait(ctx, nc.done)
	switch {
	case errors.Is(err, pending.ErrGone):
		return nil, fmt.Errorf("%w: %s (link lost during the command)", control.ErrNodeNotLinked, nc.name)
	case err != nil:
		return nil, err
	case rep.NoChannel:
		return rep, fmt.Errorf("%w (%s, node %s)", control.ErrNoChannel, rep.Err, nc.name)
	case rep.Err != "":
		return rep, fmt.Errorf("node %s: %s", nc.name, rep.Err)
	}
	return rep, nil
}

func (r *Remote) linked() []*nodeCmds {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*nodeCmds, 0, len(r.links))
	for _, nc := range r.links {
		out = append(out, nc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// instancePeer is another central instance sharing the database, reached for the
// nodes linked to it.
type instancePeer interface {
	// forward runs cmd on the instance's linked node named node (every
	// linked node when node is "").
	forward(ctx context.Context, node string, cmd wire.Command) ([]wire.NodeReply, error)
}

// setPeers gives the Remote the other instances (the hub's discovery).
func (r *Remote) setPeers(fn func(context.Context) []instancePeer) {
	r.mu.Lock()
	r.peers = fn
	r.mu.Unlock()
}

type nodeResult struct {
	node string
	rep  *wire.Reply
	err  error
}

// runLocal runs cmd on the locally linked node named node (all of them
// when node is ""), as replies another instance can be sent.
func (r *Remote) runLocal(ctx context.Context, node string, cmd wire.Command) []wire.NodeReply {
	var links []*nodeCmds
	for _, nc := range r.linked() {
		if node == "" || nc.name == node {
			links = append(links, nc)
		}
	}
	if node != "" && len(links) == 0 {
		return []wire.NodeReply{{Node: node, NotLinked: true, Err: control.ErrNodeNotLinked.Error()}}
	}
	out := make([]wire.NodeReply, len(links))
	var wg sync.WaitGroup
	for i, nc := range links {
		wg.Go(func() {
			c := cmd
			rep, err := r.call(ctx, nc, &c)
			out[i] = wire.NodeReply{Node: nc.name}
			switch {
			case rep != nil:
				out[i].Reply = rep // the node's own error is in rep.Err
			case err != nil:
				out[i].Err, out[i].NotLinked = err.Error(), errors.Is(err, control.ErrNodeNotLinked)
			}
		})
	}
	wg.Wait()
	return out
}

// result turns a NodeReply into a nodeResult with Go errors.
func result(nr wire.NodeReply) nodeResult {
	res := nodeResult{node: nr.Node, rep: nr.Reply}
	switch {
	case nr.Err != "" && nr.NotLinked:
		res.err = fmt.Errorf("%w: %s", control.ErrNodeNotLinked, nr.Node)
	case nr.Err != "":
		res.err = fmt.Errorf("%w: node %s: %s", control.ErrNodeFailed, nr.Node, nr.Err)
	case nr.Reply == nil:
		res.err = fmt.Errorf("%w: node %s: no reply", control.ErrNodeFailed, nr.Node)
	case nr.Reply.NoChannel:
		res.err = fmt.Errorf("%w (%s, node %s)", control.ErrNoChannel, nr.Reply.Err, nr.Node)
	case nr.Reply.NotRegistered:
		res.err = fmt.Errorf("%w (node %s)", control.ErrNotRegistered, nr.Node)
	case nr.Reply.Err != "":
		res.err = fmt.Errorf("%w: node %s: %s", control.ErrNodeFailed, nr.Node, nr.Reply.Err)
	}
	return res
}

// run sends cmd to node (every node when ""), linked here or to another
// instance.
func (r *Remote) run(ctx context.Context, node string, cmd wire.Command) []nodeResult {
	out := kept(node, r.runLocal(ctx, node, cmd))
	if node != "" && len(out) > 0 {
		return out // linked here
	}
	fwd, unreachable := r.forwarded(ctx, node, cmd)
	out = append(out, fwd...)
	if node != "" && len(out) == 0 {
		return []nodeResult{{node: node, err: fmt.Errorf("%w: %s", control.ErrNodeNotLinked, node)}}
	}
	return append(out, unreachable...)
}

// forwarded runs cmd at the other instances: their nodes' results, and
// an error for each instance that could not be reached.
func (r *Remote) forwarded(ctx context.Context, node string, cmd wire.Command) (res, unreachable []nodeResult) {
	r.mu.Lock()
	peersOf := r.peers
	r.mu.Unlock()
	if peersOf == nil {
		return nil, nil
	}
	peers := peersOf(ctx)
	replies := make([][]wire.NodeReply, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() { replies[i], errs[i] = p.forward(ctx, node, cmd) })
	}
	wg.Wait()
	for i := range peers {
		if errs[i] != nil {
			unreachable = append(unreachable, nodeResult{err: fmt.Errorf("%w: central instance unreachable: %w", control.ErrNodeFailed, errs[i])})
			continue
		}
		res = append(res, kept(node, replies[i])...)
	}
	return res, unreachable
}

// kept are the results of the replies that count: all of them, or, for a
// named node, those of the instance where it is linked.
func kept(node string, replies []wire.NodeReply) []nodeResult {
	var out []nodeResult
	for _, nr := range replies {
		if node != "" && nr.NotLinked {
			continue
		}
		out = append(out, result(nr))
	}
	return out
}

// Channels lists the live channels of every linked node (here and at the
// other instances), node by node. A node that fails is left out unless
// every node fails.
func (r *Remote) Channels(ctx context.Context, tenant string) ([]control.ChannelInfo, error) {
	res := r.run(ctx, "", wire.Command{Op: wire.OpChannels, Tenant: tenant})
	var out []control.ChannelInfo
	var failed []error
	for _, nr := range res {
		if nr.err != nil {
			failed = append(failed, nr.err)
			continue
		}
		out = append(out, nr.rep.Channels...)
	}
	if len(res) > 0 && len(failed) == len(res) {
		return nil, errors.Join(failed...)
	}
	return out, nil
}

// onChannel sends a channel command to every node; the one that has the
// channel answers. ErrNoChannel when none has it.
func (r *Remote) onChannel(ctx context.Context, cmd wire.Command) (*wire.Reply, error) {
	var other error
	for _, nr := range r.run(ctx, "", cmd) {
		if nr.err == nil {
			return nr.rep, nil
		}
		if !errors.Is(nr.err, control.ErrNoChannel) && !errors.Is(nr.err, control.ErrNodeNotLinked) {
			other = nr.err
		}
	}
	if other != nil {
		return nil, other
	}
	return nil, fmt.Errorf("%w: %s", control.ErrNoChannel, cmd.Channel)
}

// Locate asks every node (here and at the other instances) whether the
// user is registered there; the first that is answers.
func (r *Remote) Locate(ctx context.Context, tenant, user string) (control.Location, error) {
	return r.locate(ctx, "", tenant, user)
}

// locate is Locate for a node's own question: except (the asking node)
// is not a candidate.
func (r *Remote) locate(ctx context.Context, except, tenant, user string) (control.Location, error) {
	var failed error
	for _, nr := range r.run(ctx, "", wire.Command{Op: wire.OpLocate, Tenant: tenant, Name: user}) {
		switch {
		case nr.node == except:
		case nr.err == nil && nr.rep.Location != nil:
			loc := *nr.rep.Location
			loc.Node = nr.node // the enrolled name, whatever its system_name
			return loc, nil
		case nr.err != nil && !errors.Is(nr.err, control.ErrNotRegistered) && !errors.Is(nr.err, control.ErrNodeNotLinked):
			failed = nr.err
		}
	}
	if failed != nil {
		return control.Location{}, fmt.Errorf("%w: %s (and %w)", control.ErrNotRegistered, user, failed)
	}
	return control.Location{}, fmt.Errorf("%w on any linked node: %s", control.ErrNotRegistered, user)
}

// Originate runs on the node the request names (Node; linked here or to
// another instance); without one, for PJSIP/user, on the node where the
// user is registered, else on the only node linked here.
func (r *Remote) Originate(ctx context.Context, req control.OriginateRequest) (control.OriginateResult, error) {
	node := req.Node
	if node == "" {
		if user, ok := userOf(req.Channel); ok {
			tenant := req.Tenant // an admin's PJSIP/user is the default tenant's
			if tenant == "" {
				tenant = provision.DefaultTenant
			}
			if loc, err := r.Locate(ctx, tenant, user); err == nil {
				node = loc.Node
			}
		}
	}
	if node == "" {
		switch links := r.linked(); len(links) {
		case 0:
			return control.OriginateResult{}, fmt.Errorf("%w: no node is linked to this central instance; name the node", control.ErrNodeNotLinked)
		case 1:
			node = links[0].name
		default:
			return control.OriginateResult{}, fmt.Errorf("%d nodes are linked and %s is registered on none: name the node to originate on", len(links), req.Channel)
		}
	}
	res := r.run(ctx, node, wire.Command{Op: wire.OpOriginate, Originate: &req})
	if len(res) == 0 {
		return control.OriginateResult{}, fmt.Errorf("%w: %s", control.ErrNodeNotLinked, node)
	}
	if res[0].err != nil {
		return control.OriginateResult{}, res[0].err
	}
	if res[0].rep.Originate == nil {
		return control.OriginateResult{}, fmt.Errorf("node %s: no originate result", node)
	}
	return *res[0].rep.Originate, nil
}

// Hangup hangs up a channel on whichever node has it.
func (r *Remote) Hangup(ctx context.Context, tenant, ch string, cause int) error {
	_, err := r.onChannel(ctx, wire.Command{Op: wire.OpHangup, Tenant: tenant, Channel: ch, Cause: cause})
	return err
}

// Redirect moves a channel (and extra, on the same node) in the dialplan.
func (r *Remote) Redirect(ctx context.Context, tenant, ch, extra, dpContext, exten, priority string) error {
	_, err := r.onChannel(ctx, wire.Command{Op: wire.OpRedirect, Tenant: tenant, Channel: ch, Extra: extra, Context: dpContext, Exten: exten, Priority: priority})
	return err
}

// GetVar reads a channel variable.
func (r *Remote) GetVar(ctx context.Context, tenant, ch, name string) (string, error) {
	rep, err := r.onChannel(ctx, wire.Command{Op: wire.OpGetVar, Tenant: tenant, Channel: ch, Name: name})
	if err != nil {
		return "", err
	}
	return rep.Value, nil
}

// SetVar sets a channel variable.
func (r *Remote) SetVar(ctx context.Context, tenant, ch, name, value string) error {
	_, err := r.onChannel(ctx, wire.Command{Op: wire.OpSetVar, Tenant: tenant, Channel: ch, Name: name, Value: value})
	return err
}

// Reload makes a node ("" every node) reload a module: "" or "dialplan"
// reload its extensions.conf, under its realtime rows. It returns the nodes
// that reloaded; any failure is an error naming the node.
func (r *Remote) Reload(ctx context.Context, node, module string) ([]string, error) {
	var done []string
	var failed []error
	for _, nr := range r.run(ctx, node, wire.Command{Op: wire.OpReload, Name: module}) {
		if nr.err != nil {
			failed = append(failed, nr.err)
			continue
		}
		done = append(done, nr.node)
	}
	return done, errors.Join(failed...)
}

// userOf is the user of a PJSIP/user dial string (not PJSIP/exten@trunk).
func userOf(dial string) (string, bool) {
	tech, res, ok := strings.Cut(strings.TrimSpace(dial), "/")
	if !ok || !(strings.EqualFold(tech, "PJSIP") || strings.EqualFold(tech, "SIP")) || res == "" || strings.Contains(res, "@") {
		return "", false
	}
	return res, true
}
