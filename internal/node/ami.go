package node

import (
	"context"
	"log/slog"
	"strings"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/astdb"
	"github.com/entvoice/entvoice/internal/config"
)

// amiOptions checks the ami section and builds the AMI server's options
// (nil when ami.listen is "off"), its Users being the static users. The
// server itself is made at Start (startAMI), once the node knows whether a
// store-backed user source was attached.
func amiOptions(cfg *config.Config, n *Node, log *slog.Logger) (*ami.Options, error) {
	c := cfg.AMI
	if strings.EqualFold(c.Listen, "off") {
		return nil, nil
	}
	o, err := ami.OptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	o.Bus, o.Control, o.DB, o.Logger = n.Bus, n.Control, astdb.New(n.Store), log
	if n.AGI != nil {
		o.AGI = n.AGI
	}
	o.Node = &ami.LocalNode{PBX: n.PBX, SIP: n.SIP, ReloadDialplan: n.ReloadDialplan}
	return &o, nil
}

// SetAMIUsers adds a source of AMI users (the provisioning store's:
// ami.StoreUsers), asked after the static ami.users. With one, the node
// serves AMI even without static users (unless ami.listen is "off").
// Call it before Start.
func (n *Node) SetAMIUsers(src ami.UserSource) { n.amiSource = src }

// startAMI makes and starts the AMI server when ami.listen is not "off"
// and there is a user to log in as: static users or an attached source.
// Without either AMI stays off, as Asterisk's manager.conf ships with
// enabled = no.
func (n *Node) startAMI(ctx context.Context) error {
	o := n.amiOpts
	if o == nil {
		return nil
	}
	static, _ := o.Users.(ami.StaticUsers)
	if len(static) == 0 && n.amiSource == nil {
		return nil
	}
	if n.amiSource != nil {
		o.Users = ami.Chain{static, n.amiSource}
	}
	s, err := ami.New(*o)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	n.AMI = s
	return nil
}
