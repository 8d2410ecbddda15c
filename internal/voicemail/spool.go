package voicemail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Folders are Asterisk's mailbox folders by number (app_voicemail.c
// mailbox_folders): 0-4 are offered by the menus, 5-9 exist for
// compatibility, 10 holds deleted messages, 11 urgent new ones.
var Folders = []string{"INBOX", "Old", "Work", "Family", "Friends", "Cust1", "Cust2", "Cust3", "Cust4", "Cust5", "Deleted", "Urgent"}

// Folder names with a meaning of their own.
const (
	Inbox  = "INBOX"
	Old    = "Old"
	Urgent = "Urgent"
)

// FolderByName returns a folder's canonical name (case-insensitive) and
// number.
func FolderByName(name string) (string, int, bool) {
	for i, f := range Folders {
		if strings.EqualFold(f, name) {
			return f, i, true
		}
	}
	return "", 0, false
}

// Greetings of a mailbox, files beside its folders (app_voicemail.c).
const (
	GreetUnavail = "unavail"
	GreetBusy    = "busy"
	GreetName    = "greet"
	GreetTemp    = "temp"
)

// Message is one message: its msgNNNN.txt and where its audio is.
type Message struct {
	// ID is the txt file's msg_id, stable while the message moves between
	// folders and is renumbered.
	ID     string
	Folder string
	// Num is the message's number in its folder (msgNNNN).
	Num int
	// Path is the audio file without its ".wav".
	Path string
	// The envelope as app_voicemail.c writes it.
	OrigMailbox string
	Context     string // dialplan context of the call that left it
	Exten       string
	RDNIS       string
	Priority    int
	CallerChan  string
	CallerID    string // "Name" <number>
	OrigDate    string
	OrigTime    time.Time
	Category    string
	Flag        string // "", "Urgent" or "PRIORITY"
	Duration    int    // seconds
}

// msgName is msgNNNN.
func msgName(n int) string { return fmt.Sprintf("msg%04d", n) }

// writeInfo writes a message's txt file as leave_voicemail does: a
// comment header, [message] and its keys.
func writeInfo(w io.Writer, m *Message) error {
	var b strings.Builder
	b.WriteString(";\n; Message Information file\n;\n[message]\n")
	kv := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.NewReplacer("\n", " ", "\r", " ").Replace(v))
		b.WriteByte('\n')
	}
	kv("origmailbox", m.OrigMailbox)
	kv("context", m.Context)
	kv("exten", m.Exten)
	kv("rdnis", m.RDNIS)
	kv("priority", strconv.Itoa(m.Priority))
	kv("callerchan", m.CallerChan)
	kv("callerid", m.CallerID)
	kv("origdate", m.OrigDate)
	kv("origtime", strconv.FormatInt(m.OrigTime.Unix(), 10))
	kv("category", m.Category)
	kv("msg_id", m.ID)
	kv("flag", m.Flag)
	kv("duration", strconv.Itoa(m.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

// readInfo parses a txt file (any order of keys; unknown keys ignored).
func readInfo(path string) (*Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &Message{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(strings.TrimPrefix(v, ">"))
		switch strings.TrimSpace(k) {
		case "origmailbox":
			m.OrigMailbox = v
		case "context":
			m.Context = v
		case "exten":
			m.Exten = v
		case "rdnis":
			m.RDNIS = v
		case "priority":
			m.Priority, _ = strconv.Atoi(v)
		case "callerchan":
			m.CallerChan = v
		case "callerid":
			m.CallerID = v
		case "origdate":
			m.OrigDate = v
		case "origtime":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				m.OrigTime = time.Unix(n, 0)
			}
		case "category":
			m.Category = v
		case "msg_id":
			m.ID = v
		case "flag":
			m.Flag = v
		case "duration":
			m.Duration, _ = strconv.Atoi(v)
		}
	}
	return m, sc.Err()
}

// spool is the message store on disk, Asterisk's layout under root
// (data_dir/voicemail): <context>/<mailbox>/<folder>/msgNNNN.wav and
// msgNNNN.txt, the greetings beside the folders, recordings in progress
// in <context>/<mailbox>/tmp. Callers hold the mailbox's lock.
type spool struct{ root string }

func (s spool) mailboxDir(m *Mailbox) string {
	return filepath.Join(s.root, m.spoolContext(), m.Number)
}

func (s spool) folderDir(m *Mailbox, folder string) string {
	return filepath.Join(s.mailboxDir(m), folder)
}

// list returns a folder's messages in number order. A message exists when
// both its txt and its audio do: a deposit writes the audio first and
// renames the txt into place last, so a message cut off by a crash or a
// full disk is never listed (and resequence removes what is left of it).
func (s spool) list(m *Mailbox, folder string) ([]*Message, error) {
	dir := s.folderDir(m, folder)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail: read %s: %w", dir, err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		have[e.Name()] = true
	}
	var out []*Message
	for _, e := range ents {
		n, ok := msgNumber(e.Name(), ".txt")
		if !ok {
			continue
		}
		base := msgName(n)
		if !have[base+".wav"] {
			continue
		}
		info, err := readInfo(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("voicemail: %w", err)
		}
		info.Folder, info.Num, info.Path = folder, n, filepath.Join(dir, base)
		if info.ID == "" {
			// Asterisk adds a msg_id to messages from before it had one
			// (add_message_id); so do we, in memory: the file name.
			info.ID = fmt.Sprintf("%s-%s-%04d", m.ID(), folder, n)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	return out, nil
}

// folders lists the messages of one folder, or ("") of every folder in
// folder order.
func (s spool) folders(m *Mailbox, folder string) ([]*Message, error) {
	var out []*Message
	for _, f := range Folders {
		if folder != "" && f != folder {
			continue
		}
		msgs, err := s.list(m, f)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// msgNumber parses "msgNNNN"+ext.
func msgNumber(name, ext string) (int, bool) {
	if !strings.HasPrefix(name, "msg") || !strings.HasSuffix(name, ext) {
		return 0, false
	}
	digits := strings.TrimSuffix(strings.TrimPrefix(name, "msg"), ext)
	if len(digits) != 4 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// lastIndex is the highest message number in a folder, -1 when empty
// (app_voicemail.c last_message_index: a new message takes the next).
func (s spool) lastIndex(m *Mailbox, folder string) (int, error) {
	ents, err := os.ReadDir(s.folderDir(m, folder))
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("voicemail: %w", err)
	}
	last := -1
	for _, e := range ents {
		for _, ext := range []string{".txt", ".wav"} {
			if n, ok := msgNumber(e.Name(), ext); ok && n > last {
				last = n
			}
		}
	}
	return last, nil
}

// nextSlot makes a folder's directory and gives the number of the next
// message there (after the highest; ErrFull past msg9999).
func (s spool) nextSlot(m *Mailbox, folder string) (string, int, error) {
	dir := s.folderDir(m, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("voicemail: %w", err)
	}
	last, err := s.lastIndex(m, folder)
	if err != nil {
		return "", 0, err
	}
	if last+1 > MaxMessages {
		return "", 0, ErrFull
	}
	return dir, last + 1, nil
}

// add puts a recorded WAV file (on the same file system) into a folder
// as the next message: the audio is renamed into place, then the txt,
// written beside it under a temporary name, is renamed over msgNNNN.txt,
// which is when the message exists.
func (s spool) add(m *Mailbox, folder, wav string, info *Message) (*Message, error) {
	dir, n, err := s.nextSlot(m, folder)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, msgName(n))
	tmp, err := writeTemp(dir, ".msg-*.txt", func(w io.Writer) error { return writeInfo(w, info) })
	if err != nil {
		return nil, fmt.Errorf("voicemail: write %s.txt: %w", base, err)
	}
	if err := os.Rename(wav, base+".wav"); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	if err := os.Rename(tmp, base+".txt"); err != nil {
		_ = os.Remove(tmp)
		_ = os.Remove(base + ".wav")
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	out := *info
	out.Folder, out.Num, out.Path = folder, n, base
	return &out, nil
}

// copyTo copies a message into another mailbox's folder (forwarding,
// several recipients): the audio to a temporary file first, then add.
func (s spool) copyTo(src *Message, dst *Mailbox, folder string, info *Message) (*Message, error) {
	tmpDir := filepath.Join(s.mailboxDir(dst), "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	in, err := os.Open(src.Path + ".wav")
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	defer in.Close()
	out, err := writeTemp(tmpDir, "fwd-*.wav", func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("voicemail: copy %s: %w", src.Path, err)
	}
	msg, err := s.add(dst, folder, out, info)
	if err != nil {
		_ = os.Remove(out)
	}
	return msg, err
}

// move renames a message into another folder of the same mailbox, as the
// next message there.
func (s spool) move(m *Mailbox, msg *Message, folder string) (*Message, error) {
	dir, n, err := s.nextSlot(m, folder)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, msgName(n))
	if err := os.Rename(msg.Path+".wav", base+".wav"); err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	if err := os.Rename(msg.Path+".txt", base+".txt"); err != nil {
		// Put the audio back: the message stays where it was.
		_ = os.Rename(base+".wav", msg.Path+".wav")
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	out := *msg
	out.Folder, out.Num, out.Path = folder, n, base
	return &out, nil
}

// remove deletes a message (its txt first: from then on it is not listed).
func (s spool) remove(msg *Message) error {
	if err := os.Remove(msg.Path + ".txt"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	if err := os.Remove(msg.Path + ".wav"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// resequence renumbers a folder's messages from msg0000 without gaps
// (app_voicemail.c resequence_mailbox) and removes the remains of
// messages that were never completed (audio without txt, or the reverse).
func (s spool) resequence(m *Mailbox, folder string) error {
	msgs, err := s.list(m, folder)
	if err != nil {
		return err
	}
	dir := s.folderDir(m, folder)
	keep := map[string]bool{}
	for i, msg := range msgs {
		if msg.Num != i {
			dst := filepath.Join(dir, msgName(i))
			if err := os.Rename(msg.Path+".wav", dst+".wav"); err != nil {
				return fmt.Errorf("voicemail: %w", err)
			}
			if err := os.Rename(msg.Path+".txt", dst+".txt"); err != nil {
				return fmt.Errorf("voicemail: %w", err)
			}
		}
		keep[msgName(i)+".wav"], keep[msgName(i)+".txt"] = true, true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("voicemail: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		_, isTxt := msgNumber(name, ".txt")
		_, isWav := msgNumber(name, ".wav")
		if (isTxt || isWav) && !keep[name] {
			_ = os.Remove(filepath.Join(dir, name))
		}
		if strings.HasPrefix(name, ".msg-") {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return nil
}

// count is the number of messages in a folder.
func (s spool) count(m *Mailbox, folder string) (int, error) {
	msgs, err := s.list(m, folder)
	return len(msgs), err
}

// greeting is the path (without ".wav") of one of a mailbox's greetings.
func (s spool) greeting(m *Mailbox, which string) string {
	return filepath.Join(s.mailboxDir(m), which)
}

// tmpDir is where recordings in progress go.
func (s spool) tmpDir(m *Mailbox) string { return filepath.Join(s.mailboxDir(m), "tmp") }

// secretPath is the spool PIN of a mailbox (Asterisk's
// passwordlocation=spooldir file): a PIN its user changed by phone.
func (s spool) secretPath(m *Mailbox) string { return filepath.Join(s.mailboxDir(m), "secret.conf") }

// readSecret returns the PIN a user set by phone and the configured PIN
// it replaced (basis); ok is false when there is none.
func (s spool) readSecret(m *Mailbox) (pin, basis string, ok bool) {
	f, err := os.Open(s.secretPath(m))
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !found {
			continue
		}
		switch strings.TrimSpace(k) {
		case "password":
			pin, ok = strings.TrimSpace(v), true
		case "basis":
			basis = strings.TrimSpace(v)
		}
	}
	return pin, basis, ok
}

// writeSecret stores a PIN set by phone, with the configured PIN it
// replaces: when the configuration later gives another PIN (the API or
// voicemail.conf changed it), that one wins.
func (s spool) writeSecret(m *Mailbox, pin string) error {
	dir := s.mailboxDir(m)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	tmp, err := writeTemp(dir, ".secret-*", func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "[general]\npassword=%s\nbasis=%s\n", pin, m.configuredPIN())
		return err
	})
	if err == nil {
		if err = os.Rename(tmp, s.secretPath(m)); err != nil {
			_ = os.Remove(tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("voicemail: save PIN: %w", err)
	}
	return nil
}

// writeTemp creates a file in dir (pattern as os.CreateTemp), fills it
// with write, syncs and closes it, and returns its name; on any failure
// (a full disk) it is removed.
func writeTemp(dir, pattern string, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// exists reports whether path+".wav" is a file.
func exists(path string) bool {
	st, err := os.Stat(path + ".wav")
	return err == nil && st.Mode().IsRegular() && st.Size() > 44
}
