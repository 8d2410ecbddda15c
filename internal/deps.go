//go:build tools

// Package internal pins the modules the packages under it are built on, so
// that every helper working in parallel sees one go.mod. Removed once each
// dependency is imported by real code.
package internal

import (
	_ "github.com/emiago/sipgo"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/pion/rtcp"
	_ "github.com/pion/rtp"
	_ "github.com/pion/sdp/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/zaf/g711"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
