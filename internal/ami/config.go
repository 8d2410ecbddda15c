package ami

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/config"
)

// OptionsFromConfig checks the ami section (manager.conf's settings and
// static users) and returns the Options it sets; the caller adds what the
// process provides (Bus, Control, DB, Node, Logger).
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	c := cfg.AMI
	users, err := UsersFromConfig(c.Users)
	if err != nil {
		return Options{}, fmt.Errorf("%s: %w", cfg.Path(), err)
	}
	o := Options{
		Listen: c.Listen, TLSListen: c.TLSListen, AuthLimit: c.AuthLimit,
		TimestampEvents: c.TimestampEvents, SystemName: cfg.SystemName, QueueSize: c.QueueSize,
		MaxAuthFailures: c.MaxAuthFailures, Users: users,
	}
	for _, d := range []struct {
		key, val string
		dst      *time.Duration
	}{{"ami.authtimeout", c.AuthTimeout, &o.AuthTimeout}, {"ami.auth_failure_window", c.AuthFailureWindow, &o.FailureWindow}, {"ami.ban_time", c.BanTime, &o.BanTime}} {
		if *d.dst, err = config.Duration(d.key, d.val); err != nil {
			return Options{}, err
		}
	}
	if c.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(c.TLSCert), cfg.Resolve(c.TLSKey))
		if err != nil {
			return Options{}, fmt.Errorf("ami.tls_cert/tls_key: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}
