package pbx

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/entvoice/entvoice/internal/dialplan"
)

// Function is a dialplan function an application package adds
// (ast_custom_function): Read answers ${NAME(args)}, Write
// Set(NAME(args)=value); either may be nil. A Read error makes the
// substitution empty, as a read callback returning -1 does in Asterisk.
type Function struct {
	Read  func(e *Exec, args string) (string, error)
	Write func(e *Exec, args, value string) error
}

// RegisterFunction adds a dialplan function under its case-insensitive
// name. It must be called before the PBX runs calls; the functions of
// env.go keep precedence.
func (p *PBX) RegisterFunction(name string, f Function) {
	if p.funcs == nil {
		p.funcs = map[string]Function{}
	}
	p.funcs[strings.ToUpper(name)] = f
}

// callRegistered reads a registered function (ErrNoFunction if none).
func (e *Exec) callRegistered(name, args string) (string, error) {
	f, ok := e.PBX.funcs[strings.ToUpper(name)]
	if !ok || f.Read == nil {
		return "", fmt.Errorf("%w: %s", dialplan.ErrNoFunction, name)
	}
	return f.Read(e, args)
}

// setRegistered writes a registered function; ok is false when there is
// no writable function of that name.
func (e *Exec) setRegistered(name, args, value string) (bool, error) {
	f, ok := e.PBX.funcs[strings.ToUpper(name)]
	if !ok || f.Write == nil {
		return false, nil
	}
	return true, f.Write(e, args, value)
}

// CallContext is the channel's context for the whole dialplan run: it ends
// when the channel hangs up, never when an application is interrupted (an
// async goto). Objects that outlive one application (a speech recognizer)
// hang on it.
func (e *Exec) CallContext() context.Context { return e.base }

// Datastore returns what an application stored on the channel under key
// (ast_channel_datastore_find).
func (e *Exec) Datastore(key any) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.stores[key]
	return v, ok
}

// SetDatastore stores v on the channel under key (ast_channel_datastore_add),
// closing what was there if it is an io.Closer. Stored values that are
// io.Closers are closed when the channel is destroyed, after the h
// extension, as Asterisk destroys a channel's datastores.
func (e *Exec) SetDatastore(key, v any) {
	e.mu.Lock()
	old, had := e.stores[key]
	if e.stores == nil {
		e.stores = map[any]any{}
	}
	e.stores[key] = v
	e.mu.Unlock()
	if had && old != v {
		closeStore(old)
	}
}

// RemoveDatastore removes and closes what is stored under key; it reports
// whether there was anything (ast_channel_datastore_remove + free).
func (e *Exec) RemoveDatastore(key any) bool {
	e.mu.Lock()
	v, ok := e.stores[key]
	delete(e.stores, key)
	e.mu.Unlock()
	if ok {
		closeStore(v)
	}
	return ok
}

// closeDatastores closes everything stored, when the channel is destroyed.
func (e *Exec) closeDatastores() {
	e.mu.Lock()
	stores := e.stores
	e.stores = nil
	e.mu.Unlock()
	for _, v := range stores {
		closeStore(v)
	}
}

func closeStore(v any) {
	if c, ok := v.(io.Closer); ok {
		_ = c.Close()
	}
}
