package agi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/entvoice/entvoice/internal/dialplan"
)

// SRVResolver looks up SRV records (net.Resolver satisfies it).
type SRVResolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

type netResolver struct{}

func (netResolver) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	return net.DefaultResolver.LookupSRV(ctx, service, proto, name)
}

// transport is the script's side of a session: a FastAGI socket or a local
// process's pipes.
type transport struct {
	r    io.Reader
	w    io.Writer
	fast bool
	// script is agi_network_script for FastAGI ("" for none).
	script string
	conn   net.Conn

	cmd    *exec.Cmd
	stdin  *os.File // our ends of the script's stdin and stdout
	stdout *os.File
	audio  *os.File // EAGI: our end of the fd 3 pipe

	// async is the command queue of an AsyncAGI session, whose replies
	// are captured in w; it has no script.
	async *asyncQueue

	aborted atomic.Bool // AGI.Close ended the session
}

// setReadDeadline bounds the wait for the script's next line.
func (t *transport) setReadDeadline(d time.Time) error {
	if t.conn != nil {
		return t.conn.SetReadDeadline(d)
	}
	return t.stdout.SetReadDeadline(d)
}

// hangupSignal tells the script the channel hung up: SIGHUP to a local
// script (FastAGI peers get the HANGUP line instead, see session).
func (t *transport) sighup() {
	if t.cmd != nil && t.cmd.Process != nil {
		_ = t.cmd.Process.Signal(syscall.SIGHUP)
	}
}

// abort ends the transport from another goroutine (AGI.Close): the
// session's next read or write fails.
func (t *transport) abort() {
	t.aborted.Store(true)
	if t.async != nil {
		t.async.signal()
		return
	}
	if t.conn != nil {
		_ = t.conn.Close()
		return
	}
	_ = t.stdout.Close()
	_ = t.stdin.Close()
	t.kill()
}

// kill ends a local script and whatever it started: it runs in a process
// group of its own.
func (t *transport) kill() {
	if t.cmd.Process != nil {
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// close releases the transport. For a local script it closes the pipes,
// then waits for the process, killing it if it does not exit within grace
// of the end of the session; it returns the process's exit error.
func (t *transport) close(grace time.Duration) error {
	if t.conn != nil {
		return t.conn.Close()
	}
	if t.audio != nil {
		t.audio.Close()
	}
	t.stdin.Close()
	t.stdout.Close()
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.kill()
		return <-done
	}
}

// errNotFound is a local script that does not exist (AGISTATUS=NOTFOUND).
var errNotFound = errors.New("agi script not found")

// launch starts the script named by the AGI() command: launch_script in
// res_agi.c.
func (a *AGI) launch(ctx context.Context, log *slog.Logger, args []string, enhanced bool, tenant string) (*transport, error) {
	script := args[0]
	switch {
	case hasPrefixFold(script, "agi://"):
		if enhanced {
			// EAGI has no audio channel over FastAGI (launch_script fails).
			return nil, fmt.Errorf("EAGI cannot use FastAGI (%s)", script)
		}
		return a.launchNet(ctx, script)
	case hasPrefixFold(script, "hagi://"):
		if enhanced {
			return nil, fmt.Errorf("EAGI cannot use FastAGI (%s)", script)
		}
		return a.launchHA(ctx, log, script)
	}
	return a.launchLocal(args, enhanced, tenant)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// splitURL splits "agi://host[:port][/script]" (scheme already checked)
// into host:port and script (everything after the first '/', query
// included, which is agi_network_script).
func splitURL(url string, schemeLen int) (hostport, script string, err error) {
	rest := url[schemeLen:]
	host, script, _ := strings.Cut(rest, "/")
	if host == "" {
		return "", "", fmt.Errorf("no host in %q", url)
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return "", "", fmt.Errorf("bad port in %q", url)
		}
		return net.JoinHostPort(h, p), script, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return net.JoinHostPort(h, strconv.Itoa(DefaultPort)), script, nil
}

// launchNet is launch_netscript: connect within the connect timeout.
func (a *AGI) launchNet(ctx context.Context, url string) (*transport, error) {
	hostport, script, err := splitURL(url, len("agi://"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("FastAGI connect to %s: %w", hostport, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &transport{r: c, w: c, conn: c, fast: true, script: script}, nil
}

// launchHA is launch_ha_netscript: an SRV lookup of _agi._tcp.host, then
// each target in order until one connects. A port in the URL disables the
// lookup.
func (a *AGI) launchHA(ctx context.Context, log *slog.Logger, url string) (*transport, error) {
	rest := url[len("hagi://"):]
	host, script, _ := strings.Cut(rest, "/")
	if host == "" {
		return nil, fmt.Errorf("no host in %q", url)
	}
	if strings.Contains(host, ":") {
		log.Warn("Specifying a port number disables SRV lookups", "url", url)
		return a.launchNet(ctx, url[1:])
	}
	lctx, cancel := context.WithTimeout(ctx, a.opts.ConnectTimeout)
	_, srvs, err := a.opts.Resolver.LookupSRV(lctx, "agi", "tcp", host)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("SRV lookup failed for %s: %w", url, err)
	}
	var errs []error
	for _, s := range srvs {
		target := strings.TrimSuffix(s.Target, ".")
		u := fmt.Sprintf("agi://%s/%s", net.JoinHostPort(target, strconv.Itoa(int(s.Port))), script)
		t, err := a.launchNet(ctx, u)
		if err == nil {
			return t, nil
		}
		log.Warn("AGI request failed", "host", host, "target", target, "port", s.Port, "err", err)
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no FastAGI server answered for %s: %w", url, errors.Join(errs...))
}

// launchLocal starts a local script with the protocol on its stdin and
// stdout and, for EAGI, the caller's audio on fd 3. Relative paths are
// under agi_dir. argv is the AGI() arguments, as Asterisk's execv.
//
// Hosted mode: a hosted tenant's dialplan may only start scripts inside
// agi_dir, so that no tenant can run an arbitrary program on the node; the
// default tenant (static configuration, the operator's own) may run any.
func (a *AGI) launchLocal(args []string, enhanced bool, tenant string) (*transport, error) {
	path := args[0]
	if !filepath.IsAbs(path) {
		path = filepath.Join(a.opts.Dir, path)
	}
	path = filepath.Clean(path)
	if !dialplan.IsDefaultTenant(tenant) && !strings.HasPrefix(path, filepath.Clean(a.opts.Dir)+string(filepath.Separator)) {
		return nil, fmt.Errorf("tenant %q may only run scripts in agi_dir %s, not %q", tenant, a.opts.Dir, args[0])
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("failed to execute %q: %w", path, errNotFound)
	}
	cmd := &exec.Cmd{Path: path, Args: args, Dir: filepath.Dir(path)}
	cmd.Env = append(os.Environ(), "AST_AGI_DIR="+a.opts.Dir)
	// Our own pipes (not StdinPipe/StdoutPipe) so reads take deadlines:
	// a hangup or the idle timeout interrupts the wait for a command.
	var files []*os.File // the child's ends, closed once it has them
	closeAll := func(fs ...*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	files = append(files, inR, outW)
	t := &transport{r: outR, w: inW, cmd: cmd, stdin: inW, stdout: outR}
	cmd.Stdin, cmd.Stdout = inR, outW
	if enhanced {
		audioR, audioW, err := os.Pipe()
		if err != nil {
			closeAll(inR, inW, outR, outW)
			return nil, err
		}
		t.audio = audioW
		files = append(files, audioR)
		cmd.ExtraFiles = []*os.File{audioR}
	}
	// The script's stderr goes where the node's goes, as Asterisk's does.
	cmd.Stderr = os.Stderr
	// Its own process group, so that ending it ends its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	closeAll(files...)
	if err != nil {
		closeAll(inW, outR, t.audio)
		return nil, fmt.Errorf("failed to execute %q: %w", path, err)
	}
	return t, nil
}
