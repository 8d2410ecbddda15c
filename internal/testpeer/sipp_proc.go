package testpeer

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SIPpProc is a SIPp process running in the background (typically a UAS).
type SIPpProc struct {
	// Port, MediaPort, ControlPort are the ports it was started with.
	Port, MediaPort, ControlPort int
	// Dir is its working directory (logs, play.pcap).
	Dir string

	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{} // closed when the process was reaped
	err    error         // Wait's result, valid after done
	grace  time.Duration
	once   sync.Once
	res    *SIPpResult
}

// Addr returns the SIP address "127.0.0.1:port" to send requests to.
func (p *SIPpProc) Addr() string { return fmt.Sprintf("%s:%d", sippLoopback, p.Port) }

// DefaultStopGrace is how long Stop waits after SIGUSR1 before killing
// SIPp. It exceeds the 4 s timewait of SIPp's built-in uas scenario, whose
// calls only count as successful once it is over.
const DefaultStopGrace = 5 * time.Second

// StartSIPp starts SIPp in the background and returns once its SIP, media
// and control sockets are bound (read from /proc/net, without touching
// them). The process is stopped and reaped at t.Cleanup if Stop was not
// called. Bind failures are retried with new ports when none were given.
func StartSIPp(t testing.TB, opts SIPpOptions) *SIPpProc {
	t.Helper()
	r := prepare(t, opts, 120*time.Second)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 120 * time.Second
	}
	for attempt := 0; ; attempt++ {
		p, code, err := r.start(timeout, opts.Transport)
		if err == nil {
			p.grace = opts.StopGrace
			if p.grace <= 0 {
				p.grace = DefaultStopGrace
			}
			t.Cleanup(func() { p.Stop() })
			return p
		}
		if code >= 0 && r.bindFailed(code) && attempt < bindRetries && opts.Port == 0 && opts.MediaPort == 0 && opts.ControlPort == 0 {
			t.Logf("testpeer: sipp bind error, retrying with new ports")
			r.port, r.mport, r.cport = 0, 0, 0
			r.pickPorts(t, opts.Transport)
			r.rekey(opts)
			continue
		}
		logDiagnostics(t, r.dir)
		t.Fatalf("testpeer: start sipp: %v", err)
	}
}

// start launches the process and waits for its sockets. On failure the
// process is reaped and its exit code returned (-1 if it did not exit by
// itself).
func (r *sippRun) start(timeout time.Duration, transport string) (*SIPpProc, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	cmd, err := r.command(ctx)
	if err != nil {
		cancel()
		return nil, -1, err
	}
	if err := cmd.Start(); err != nil {
		closeOut(cmd)
		cancel()
		return nil, -1, fmt.Errorf("testpeer: start sipp: %w", err)
	}
	p := &SIPpProc{
		Port: r.port, MediaPort: r.mport, ControlPort: r.cport, Dir: r.dir,
		cmd: cmd, cancel: cancel, done: make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		closeOut(cmd)
		close(p.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.done:
			cancel()
			code := exitCode(p.err)
			return nil, code, fmt.Errorf("sipp exited early with code %d", code)
		default:
		}
		ready := PortInUse("udp", r.mport) && PortInUse("udp", r.cport)
		if transport != "" && transport[0] == 't' {
			ready = ready && PortInUse("tcp", r.port)
		} else {
			ready = ready && PortInUse("udp", r.port)
		}
		if ready {
			return p, 0, nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, -1, fmt.Errorf("sipp did not bind its ports within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *SIPpProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cancel()
}

// Wait waits up to d for SIPp to exit by itself (for instance after -m
// calls) and returns its result, or nil if it is still running.
func (p *SIPpProc) Wait(d time.Duration) *SIPpResult {
	select {
	case <-p.done:
		return p.Stop()
	case <-time.After(d):
		return nil
	}
}

// Stop ends SIPp: SIGUSR1 (soft exit: no new calls, finish running ones),
// then SIGKILL after the grace period (SIPpOptions.StopGrace). The result's
// totals are only final when SIPp exited by itself. It always reaps the process and is safe to
// call more than once; every call returns the same result.
func (p *SIPpProc) Stop() *SIPpResult {
	p.once.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGUSR1)
			select {
			case <-p.done:
			case <-time.After(p.grace):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		p.cancel()
		p.res = collect(p.Dir, exitCode(p.err))
	})
	return p.res
}

// Running reports whether the process has not exited yet.
func (p *SIPpProc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}
