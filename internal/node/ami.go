package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/ami"
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
	users, err := ami.UsersFromConfig(c.Users)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path(), err)
	}
	o := ami.Options{
		Listen: c.Listen, TLSListen: c.TLSListen, AuthLimit: c.AuthLimit,
		TimestampEvents: c.TimestampEvents, SystemName: cfg.SystemName, QueueSize: c.QueueSize,
		MaxAuthFailures: c.MaxAuthFailures,
		Users:           users, Bus: n.Bus, Control: n.Control, DB: ami.NewAstDB(n.Store), Logger: log,
		Node: &ami.LocalNode{PBX: n.PBX, SIP: n.SIP, ReloadDialplan: func(context.Context) error {
			plan, err := LoadDialplan(cfg)
			if err != nil {
				return err
			}
			if err := checkApps(plan, n.PBX); err != nil {
				return err
			}
			n.PBX.SetDialplan(plan)
			return nil
		}},
	}
	for _, d := range []struct {
		key string
		val string
		dst *time.Duration
	}{{"ami.authtimeout", c.AuthTimeout, &o.AuthTimeout}, {"ami.auth_failure_window", c.AuthFailureWindow, &o.FailureWindow}, {"ami.ban_time", c.BanTime, &o.BanTime}} {
		if *d.dst, err = config.Duration(d.key, d.val); err != nil {
			return nil, err
		}
	}
	if c.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(c.TLSCert), cfg.Resolve(c.TLSKey))
		if err != nil {
			return nil, fmt.Errorf("ami.tls_cert/tls_key: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
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
