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

// newAMI builds the AMI server from the ami section. AMI is off (nil) when
// ami.listen is "off" or no user is configured, as Asterisk's manager.conf
// ships with enabled = no.
func newAMI(cfg *config.Config, n *Node, log *slog.Logger) (*ami.Server, error) {
	c := cfg.AMI
	if strings.EqualFold(c.Listen, "off") || len(c.Users) == 0 {
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
	return ami.New(o)
}
