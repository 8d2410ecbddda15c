package node

import (
	"context"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/astdb"
)

// amiOptions completes the AMI server's options with what the node
// provides: its events, its calls, astdb, AsyncAGI and what it knows of
// endpoints, hints and reloads.
func (n *Node) amiOptions(o ami.Options) *ami.Options {
	o.Bus, o.Control, o.DB, o.AGI, o.Logger = n.Bus, n.Control, astdb.New(n.Store), n.AGI, n.log
	o.Node = &amiNode{pbx: n.PBX, sip: n.SIP, channels: n.Channels, reloadDialplan: n.ReloadDialplan, reloadQueues: n.ReloadQueues,
		realm: n.cfg.SIP.Realm, expires: [3]int{n.cfg.SIP.MinExpires, n.cfg.SIP.MaxExpires, n.cfg.SIP.DefaultExpires}}
	o.Realtime = n.source != nil
	o.Queues = n.Queues
	o.Mailboxes = n.Voicemail
	return &o
}

// startAMI starts the AMI server, when the node has one.
func (n *Node) startAMI(ctx context.Context) error {
	if n.amiOpts == nil {
		return nil
	}
	s, err := ami.New(*n.amiOpts)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	n.AMI = s
	return nil
}
