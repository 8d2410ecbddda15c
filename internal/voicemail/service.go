// Package voicemail is entVoice's voicemail store: the mailboxes (from
// voicemail.conf and from provisioning, per tenant), their messages as
// Asterisk keeps them on disk (msgNNNN.wav and msgNNNN.txt in folders
// under data_dir/voicemail/<context>/<mailbox>/), greetings and PINs, the
// message-waiting state it publishes on the event bus (AMI's
// MessageWaiting, the SIP NOTIFYs of sipua) and the e-mail notification
// of new messages.
//
// It knows no channel, SIP or SQL: the dialplan applications
// (VoiceMail, VoiceMailMain in internal/apps) record and play through
// media and hand finished recordings to it; an Index given at
// construction (internal/voicemail/vmindex) keeps the messages'
// metadata in the store for the API.
package voicemail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Errors of the store.
var (
	// ErrFull: the folder holds MaxMsg messages.
	ErrFull = errors.New("voicemail: mailbox full")
	// ErrNoMessage: no message with that id in the mailbox.
	ErrNoMessage = errors.New("voicemail: no such message")
	// ErrNoMailbox: no such mailbox.
	ErrNoMailbox = errors.New("voicemail: no such mailbox")
)

// Index keeps the messages' metadata in the store (vmindex), for the API.
// The files are the truth: after each change the store is given the
// mailbox's messages as they now are on disk.
type Index interface {
	// Replace stores the messages of one mailbox, every folder.
	Replace(ctx context.Context, tenant, context, mailbox string, msgs []*Message) error
	// List returns a mailbox's messages, of one folder ("" for all), in
	// folder and number order.
	List(ctx context.Context, tenant, context, mailbox, folder string) ([]*Message, error)
}

// Options configure a Service.
type Options struct {
	// Root is the spool directory (data_dir/voicemail).
	Root string
	// Config is voicemail.conf (nil: DefaultConfig).
	Config *Config
	// Bus receives MessageWaiting events.
	Bus *events.Bus
	// Index keeps message metadata in the store; nil lists from disk.
	Index Index
	// Mailer sends the e-mail notifications; nil sends none.
	Mailer Mailer
	// Hostname names the system in e-mails (default os.Hostname).
	Hostname string
	Logger   *slog.Logger
}

// Service is the voicemail store of a node. It is safe for concurrent use.
type Service struct {
	cfg    *Config
	spool  spool
	bus    *events.Bus
	index  Index
	mailer Mailer
	host   string
	log    *slog.Logger

	dir   atomic.Pointer[directory]
	locks sync.Map // mailbox key -> *sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // e-mails in flight
}

// New returns a Service over the spool at o.Root with the mailboxes of
// o.Config; SetProvisioned adds the store's.
func New(o Options) (*Service, error) {
	if o.Root == "" {
		return nil, errors.New("voicemail: a spool directory is required")
	}
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	if o.Config == nil {
		o.Config = DefaultConfig()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: o.Config, spool: spool{root: o.Root}, bus: o.Bus, index: o.Index, mailer: o.Mailer,
		host: o.Hostname, log: o.Logger.With("component", "voicemail"), ctx: ctx, cancel: cancel}
	s.dir.Store(newDirectory(o.Config.Mailboxes, nil, s.log))
	return s, nil
}

// Close waits for the e-mail notifications in flight (at most their
// timeout) and stops.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Config is the voicemail.conf in force.
func (s *Service) Config() *Config { return s.cfg }

// Root is the spool directory.
func (s *Service) Root() string { return s.spool.root }

// key names a mailbox in maps: tenant, spool context and number.
func key(tenant, context, number string) string {
	c, _ := tenancy.Context(tenancy.Of(tenant), context)
	return c + "/" + number
}

func (s *Service) lock(m *Mailbox) func() {
	v, _ := s.locks.LoadOrStore(key(m.Tenant, m.Context, m.Number), &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Sync brings the store's index up to date with the files of every
// mailbox (at start: messages left while the store was away, files
// copied in by hand).
func (s *Service) Sync(ctx context.Context) error {
	if s.index == nil {
		return nil
	}
	var errs []error
	for _, m := range s.dir.Load().all() {
		unlock := s.lock(m)
		err := s.reindex(ctx, m)
		unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetProvisioned replaces the provisioned mailboxes (every tenant's, from
// the store). A voicemail.conf mailbox shadows a default-tenant mailbox of
// the same context and number.
func (s *Service) SetProvisioned(mbs []*Mailbox) {
	s.dir.Store(newDirectory(s.cfg.Mailboxes, mbs, s.log))
}

// Lookup finds a tenant's mailbox; context "" is "default".
func (s *Service) Lookup(tenant, context, number string) (*Mailbox, bool) {
	if context == "" {
		context = DefaultContext
	}
	return s.dir.Load().get(tenant, context, number)
}

// ParseID splits "mailbox[@context]" (context "default" when absent).
func ParseID(id string) (number, context string) {
	number, context, _ = strings.Cut(strings.TrimSpace(id), "@")
	if context == "" {
		context = DefaultContext
	}
	return number, context
}

// Mailboxes lists a tenant's mailboxes, by context and number.
func (s *Service) Mailboxes(tenant string) []*Mailbox { return s.dir.Load().ofTenant(tenant) }

// ForUser lists the mailboxes whose state a SIP user's phones are told
// (res_pjsip's endpoint mailboxes).
func (s *Service) ForUser(tenant, user string) []*Mailbox { return s.dir.Load().forUser(tenant, user) }

// State is a mailbox's message-waiting state (Asterisk's inboxcount2:
// urgent and INBOX messages are new, Old's are old). A mailbox that does
// not exist has none.
func (s *Service) State(tenant, id string) events.Mailbox {
	number, ctx := ParseID(id)
	st := events.Mailbox{Mailbox: number + "@" + ctx}
	m, ok := s.Lookup(tenant, ctx, number)
	if !ok {
		return st
	}
	return s.state(m)
}

func (s *Service) state(m *Mailbox) events.Mailbox {
	st := events.Mailbox{Mailbox: m.ID()}
	inbox, _ := s.spool.count(m, Inbox)
	urgent, _ := s.spool.count(m, Urgent)
	old, _ := s.spool.count(m, Old)
	st.New, st.Urgent, st.Old = inbox+urgent, urgent, old
	return st
}

// publish raises MessageWaiting for a mailbox (app_voicemail.c
// queue_mwi_event), with the channel that changed it if any.
func (s *Service) publish(m *Mailbox, ch *events.Snapshot) {
	if s.bus == nil {
		return
	}
	st := s.state(m)
	s.bus.Publish(events.Event{Kind: events.MessageWaiting, Tenant: tenancy.Of(m.Tenant), Channel: ch, Mailbox: &st})
}

// reindex gives the index the mailbox's messages as they are on disk.
// The caller holds the mailbox's lock.
func (s *Service) reindex(ctx context.Context, m *Mailbox) error {
	if s.index == nil {
		return nil
	}
	all, err := s.spool.folders(m, "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.index.Replace(ctx, tenancy.Of(m.Tenant), m.Context, m.Number, all); err != nil {
		return fmt.Errorf("voicemail: index %s: %w", m.ID(), err)
	}
	return nil
}

// changed ends a change to a mailbox: the index is brought up to date
// (a failure is logged: the files are the truth and the next change or
// Sync repairs the index) and MessageWaiting is published.
func (s *Service) changed(ctx context.Context, m *Mailbox, ch *events.Snapshot) {
	if err := s.reindex(ctx, m); err != nil {
		s.log.Error("voicemail index not updated", "mailbox", m.ID(), "tenant", m.Tenant, "err", err)
	}
	s.publish(m, ch)
}

// NewMessageID returns a fresh msg_id: the time and a random number
// (app_voicemail.c generate_msg_id uses a counter; a random part keeps ids
// unique across restarts and nodes without state).
func NewMessageID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// TempFile creates a file for a recording in progress in the mailbox's
// tmp directory (same file system as its folders, so a deposit is a
// rename).
func (s *Service) TempFile(m *Mailbox, pattern string) (*os.File, error) {
	dir := s.spool.tmpDir(m)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return f, nil
}

// Full reports whether the folder a new message goes to already holds
// MaxMsg messages (leave_voicemail checks before recording).
func (s *Service) Full(m *Mailbox, folder string) (bool, error) {
	n, err := s.spool.count(m, folder)
	if err != nil {
		return false, err
	}
	return n >= m.Options.MaxMsg, nil
}

// Deposit files a recorded message (wav, a finished WAV file from
// TempFile) in the mailbox, INBOX or Urgent by info.Flag, and copies it to
// the other mailboxes (VoiceMail's mailbox&mailbox...); then the index,
// MessageWaiting and the e-mail notifications. The recording is moved, or
// removed on failure. ch is the channel that left it.
func (s *Service) Deposit(ctx context.Context, m *Mailbox, wav string, info Message, others []*Mailbox, ch *events.Snapshot) (*Message, error) {
	folder := folderFor(info.Flag)
	if info.ID == "" {
		info.ID = NewMessageID(time.Now())
	}
	if info.OrigTime.IsZero() {
		info.OrigTime = time.Now()
	}
	if info.OrigDate == "" {
		info.OrigDate = OrigDate(info.OrigTime)
	}
	info.OrigMailbox = m.Number
	msg, err := s.file(ctx, m, folder, ch, func() (*Message, error) { return s.spool.add(m, folder, wav, &info) })
	if err != nil {
		_ = os.Remove(wav)
		return nil, err
	}
	for _, o := range others {
		if o == nil || key(o.Tenant, o.Context, o.Number) == key(m.Tenant, m.Context, m.Number) {
			continue
		}
		if _, err := s.copy(ctx, msg, o, ch); err != nil {
			s.log.Warn("voicemail copy failed", "from", m.ID(), "to", o.ID(), "err", err)
		}
	}
	return msg, nil
}

// copy files a copy of msg in mailbox to (app_voicemail.c copy_message:
// Urgent stays urgent) and notifies its owner.
func (s *Service) copy(ctx context.Context, msg *Message, to *Mailbox, ch *events.Snapshot) (*Message, error) {
	folder := folderFor(msg.Flag)
	info := *msg
	return s.file(ctx, to, folder, ch, func() (*Message, error) { return s.spool.copyTo(msg, to, folder, &info) })
}

// folderFor is where a new message goes: Urgent for an urgent one.
func folderFor(flag string) string {
	if flag == "Urgent" {
		return Urgent
	}
	return Inbox
}

// file puts a new message into a folder of m under its lock (put does
// the files), unless the folder is full (ErrFull); then the index, the
// MessageWaiting event and the e-mail to the mailbox's owner.
func (s *Service) file(ctx context.Context, m *Mailbox, folder string, ch *events.Snapshot, put func() (*Message, error)) (*Message, error) {
	unlock := s.lock(m)
	full, err := s.Full(m, folder)
	if err == nil && full {
		err = ErrFull
	}
	var msg *Message
	if err == nil {
		msg, err = put()
	}
	if err == nil {
		s.changed(ctx, m, ch)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	s.notify(m, msg)
	return msg, nil
}

// Forward copies a message of m's folder to other mailboxes (VoiceMailMain
// 8). It stops at the first full or failing recipient.
func (s *Service) Forward(ctx context.Context, m *Mailbox, folder, msgID string, to []*Mailbox, ch *events.Snapshot) error {
	unlock := s.lock(m)
	msg, err := s.find(m, folder, msgID)
	unlock()
	if err != nil {
		return err
	}
	for _, t := range to {
		if _, err := s.copy(ctx, msg, t, ch); err != nil {
			return fmt.Errorf("forward to %s: %w", t.ID(), err)
		}
	}
	return nil
}

// Messages lists a folder's messages (from disk), in order.
func (s *Service) Messages(m *Mailbox, folder string) ([]*Message, error) {
	unlock := s.lock(m)
	defer unlock()
	return s.spool.list(m, folder)
}

// List returns a mailbox's messages from the index (the API's view), of
// one folder or ("") all; without an index, from disk.
func (s *Service) List(ctx context.Context, m *Mailbox, folder string) ([]*Message, error) {
	if s.index != nil {
		return s.index.List(ctx, tenancy.Of(m.Tenant), m.Context, m.Number, folder)
	}
	unlock := s.lock(m)
	defer unlock()
	return s.spool.folders(m, folder)
}

// find returns the message with id in folder ("" for any folder). The
// caller holds the lock.
func (s *Service) find(m *Mailbox, folder, id string) (*Message, error) {
	msgs, err := s.spool.folders(m, folder)
	if err != nil {
		return nil, err
	}
	for _, msg := range msgs {
		if msg.ID == id {
			return msg, nil
		}
	}
	return nil, fmt.Errorf("%w: %s in %s", ErrNoMessage, id, m.ID())
}

// Message finds a message by id in any folder (the API's stream).
func (s *Service) Message(m *Mailbox, id string) (*Message, error) {
	unlock := s.lock(m)
	defer unlock()
	return s.find(m, "", id)
}

// Move saves a message to another folder (VoiceMailMain 9): it becomes
// the last message there. ErrFull when that folder is full.
func (s *Service) Move(ctx context.Context, m *Mailbox, from, id, to string, ch *events.Snapshot) (*Message, error) {
	unlock := s.lock(m)
	defer unlock()
	msg, err := s.find(m, from, id)
	if err != nil {
		return nil, err
	}
	if msg.Folder == to {
		return msg, nil
	}
	if n, err := s.spool.count(m, to); err != nil {
		return nil, err
	} else if n >= m.Options.MaxMsg {
		return nil, ErrFull
	}
	out, err := s.spool.move(m, msg, to)
	if err != nil {
		return nil, err
	}
	s.changed(ctx, m, ch)
	return out, nil
}

// Delete removes a message (the API's DELETE) and renumbers its folder.
func (s *Service) Delete(ctx context.Context, m *Mailbox, id string) error {
	unlock := s.lock(m)
	defer unlock()
	msg, err := s.find(m, "", id)
	if err != nil {
		return err
	}
	if err := s.spool.remove(msg); err != nil {
		return err
	}
	if err := s.spool.resequence(m, msg.Folder); err != nil {
		s.log.Warn("voicemail resequence failed", "mailbox", m.ID(), "folder", msg.Folder, "err", err)
	}
	s.changed(ctx, m, nil)
	return nil
}

// CloseFolder ends a VoiceMailMain session on a folder (app_voicemail.c
// close_mailbox): messages marked deleted go, heard INBOX and Urgent
// messages move to Old when the mailbox has moveheard, the folder is
// renumbered, and MessageWaiting is published with the session's channel.
func (s *Service) CloseFolder(ctx context.Context, m *Mailbox, folder string, deleted, heard map[string]bool, ch *events.Snapshot) error {
	unlock := s.lock(m)
	defer unlock()
	msgs, err := s.spool.list(m, folder)
	if err != nil {
		return err
	}
	var errs []error
	for _, msg := range msgs {
		switch {
		case deleted[msg.ID]:
			errs = append(errs, s.spool.remove(msg))
		case heard[msg.ID] && m.Options.MoveHeard && (folder == Inbox || folder == Urgent):
			if n, err := s.spool.count(m, Old); err == nil && n >= m.Options.MaxMsg {
				// Old is full: the message stays new (close_mailbox).
				s.log.Warn("voicemail Old folder full; heard message stays in "+folder, "mailbox", m.ID())
				continue
			}
			_, err := s.spool.move(m, msg, Old)
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.spool.resequence(m, folder), s.spool.resequence(m, Old))
	s.changed(ctx, m, ch)
	return errors.Join(errs...)
}

// Touched publishes a mailbox's state after a session that changed
// nothing (Asterisk raises MessageWaiting when VoiceMailMain ends).
func (s *Service) Touched(m *Mailbox, ch *events.Snapshot) { s.publish(m, ch) }

// Greeting returns the path (without ".wav") of one of the mailbox's
// greetings and whether it exists.
func (s *Service) Greeting(m *Mailbox, which string) (string, bool) {
	p := s.spool.greeting(m, which)
	return p, exists(p)
}

// SaveGreeting files a recorded greeting (a WAV from TempFile).
func (s *Service) SaveGreeting(m *Mailbox, which, wav string) error {
	unlock := s.lock(m)
	defer unlock()
	if err := os.MkdirAll(s.spool.mailboxDir(m), 0o755); err != nil {
		_ = os.Remove(wav)
		return fmt.Errorf("voicemail: %w", err)
	}
	if err := os.Rename(wav, s.spool.greeting(m, which)+".wav"); err != nil {
		_ = os.Remove(wav)
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// DeleteGreeting removes a greeting (the temporary one, menu 0 4 2).
func (s *Service) DeleteGreeting(m *Mailbox, which string) error {
	err := os.Remove(s.spool.greeting(m, which) + ".wav")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// currentPIN is the PIN in force: one the user set by phone, unless the
// configuration changed since (then the configuration's); hashed reports
// that pin is a HashPIN value.
func (s *Service) currentPIN(m *Mailbox) (pin string, hashed bool) {
	if p, basis, ok := s.spool.readSecret(m); ok && basis == m.configuredPIN() {
		return p, false
	}
	if m.PINHash != "" {
		return m.PINHash, true
	}
	return m.PIN, false
}

// NeedsPIN reports whether VoiceMailMain asks for a PIN (none is set:
// Asterisk's empty or "-" password).
func (s *Service) NeedsPIN(m *Mailbox) bool {
	p, _ := s.currentPIN(m)
	return p != ""
}

// CheckPIN compares an entered PIN with the mailbox's.
func (s *Service) CheckPIN(m *Mailbox, pin string) bool {
	p, hashed := s.currentPIN(m)
	if hashed {
		return checkHash(p, pin)
	}
	return p == pin
}

// SetPIN stores a PIN the user chose by phone (VoiceMailMain 0 5): in the
// mailbox's directory, as Asterisk's passwordlocation=spooldir does, so a
// node never writes the operator's voicemail.conf or the central store.
func (s *Service) SetPIN(m *Mailbox, pin string) error {
	if err := ValidPIN(pin, s.cfg.MinPassword); err != nil {
		return err
	}
	unlock := s.lock(m)
	defer unlock()
	return s.spool.writeSecret(m, pin)
}

// OrigDate formats a message's origdate as leave_voicemail does
// (get_date: "%a %b %e %r UTC %Y" in UTC).
func OrigDate(t time.Time) string {
	u := t.UTC()
	return fmt.Sprintf("%s %2d %s UTC %d", u.Format("Mon Jan"), u.Day(), u.Format("03:04:05 PM"), u.Year())
}

// directory is an immutable snapshot of every mailbox.
type directory struct {
	boxes  map[string]*Mailbox   // key()
	byUser map[string][]*Mailbox // tenant/user -> mailboxes it is told of
}

func newDirectory(static, provisioned []*Mailbox, log *slog.Logger) *directory {
	d := &directory{boxes: map[string]*Mailbox{}, byUser: map[string][]*Mailbox{}}
	for _, m := range static {
		d.boxes[key(m.Tenant, m.Context, m.Number)] = m
	}
	for _, m := range provisioned {
		k := key(m.Tenant, m.Context, m.Number)
		if _, shadowed := d.boxes[k]; shadowed {
			log.Warn("provisioned mailbox shadowed by voicemail.conf", "mailbox", m.ID(), "tenant", m.Tenant)
			continue
		}
		d.boxes[k] = m
	}
	for _, m := range d.boxes {
		u := tenancy.Of(m.Tenant) + "/" + m.Notifies()
		d.byUser[u] = append(d.byUser[u], m)
	}
	for _, list := range d.byUser {
		sortMailboxes(list)
	}
	return d
}

func sortMailboxes(list []*Mailbox) {
	sort.Slice(list, func(i, j int) bool {
		if list[i].Context != list[j].Context {
			return list[i].Context < list[j].Context
		}
		return list[i].Number < list[j].Number
	})
}

func (d *directory) get(tenant, context, number string) (*Mailbox, bool) {
	m, ok := d.boxes[key(tenant, context, number)]
	return m, ok
}

func (d *directory) forUser(tenant, user string) []*Mailbox {
	return d.byUser[tenancy.Of(tenant)+"/"+user]
}

func (d *directory) ofTenant(tenant string) []*Mailbox {
	var out []*Mailbox
	for _, m := range d.boxes {
		if tenancy.Of(m.Tenant) == tenancy.Of(tenant) {
			out = append(out, m)
		}
	}
	sortMailboxes(out)
	return out
}

func (d *directory) all() []*Mailbox {
	out := make([]*Mailbox, 0, len(d.boxes))
	for _, m := range d.boxes {
		out = append(out, m)
	}
	sortMailboxes(out)
	return out
}
