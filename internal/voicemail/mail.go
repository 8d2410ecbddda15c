package voicemail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mail is one e-mail: the envelope and the RFC 5322 message (CRLF lines).
type Mail struct {
	From string
	To   []string
	Data []byte
}

// Mailer sends e-mail (SMTP is the relay of the configuration).
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTP sends through a relay with net/smtp: STARTTLS when the relay
// offers it, PLAIN authentication when Username is set (net/smtp allows
// it only over TLS or to localhost).
type SMTP struct {
	// Addr is the relay's "host:port".
	Addr               string
	Username, Password string
	// HELO is the name given in EHLO (default "localhost").
	HELO string
	// Timeout bounds a whole delivery (default 30 s).
	Timeout time.Duration
}

// Send delivers m.
func (c *SMTP) Send(ctx context.Context, m Mail) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("smtp relay %q: %w", c.Addr, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("smtp relay: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp relay: %w", err)
	}
	defer cl.Close()
	helo := c.HELO
	if helo == "" {
		helo = "localhost"
	}
	if err := cl.Hello(helo); err != nil {
		return fmt.Errorf("smtp EHLO: %w", err)
	}
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("smtp STARTTLS: %w", err)
		}
	}
	if c.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password, host)); err != nil {
			return fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := cl.Mail(m.From); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	for _, to := range m.To {
		if err := cl.Rcpt(to); err != nil {
			return fmt.Errorf("smtp RCPT TO %s: %w", to, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(m.Data); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	return cl.Quit()
}

// notify e-mails the owner of m about msg when the mailbox has an address
// (app_voicemail.c notify_new_message), in the background: a slow relay
// never holds up the caller. With delete=yes the message is removed once
// sent.
func (s *Service) notify(m *Mailbox, msg *Message) {
	if s.mailer == nil || strings.TrimSpace(m.Email) == "" {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		mail, err := s.compose(m, msg, time.Now())
		if err == nil {
			err = s.mailer.Send(s.ctx, mail)
		}
		if err != nil {
			s.log.Warn("voicemail e-mail not sent", "mailbox", m.ID(), "tenant", m.Tenant, "to", m.Email, "err", err)
			return
		}
		s.log.Info("voicemail e-mail sent", "mailbox", m.ID(), "to", m.Email)
		if m.Options.Delete {
			if err := s.Delete(s.ctx, m, msg.ID); err != nil {
				s.log.Warn("voicemail delete after e-mail failed", "mailbox", m.ID(), "err", err)
			}
		}
	}()
}

// compose writes the notification as make_email_file does: Asterisk's
// headers, its default subject and body (or emailsubject/emailbody with
// their ${VM_*} variables), and with attach=yes the message as an
// audio/x-wav attachment named msgNNNN.wav.
func (s *Service) compose(m *Mailbox, msg *Message, now time.Time) (Mail, error) {
	o := m.Options
	who := o.ServerEmail
	if who == "" {
		who = "asterisk"
	}
	if !strings.Contains(who, "@") {
		who += "@" + s.host
	}
	cidNum, cidName := SplitCallerID(msg.CallerID)
	dur := fmt.Sprintf("%d:%02d", msg.Duration/60, msg.Duration%60)
	date := strftime(s.cfg.EmailDateFormat, now)
	vars := map[string]string{
		"VM_NAME": m.FullName, "VM_DUR": dur, "VM_MSGNUM": strconv.Itoa(msg.Num + 1), "VM_MAILBOX": m.Number,
		"VM_CALLERID": callerIDText(cidName, cidNum), "VM_CIDNUM": cidNum, "VM_CIDNAME": cidName, "VM_DATE": date,
		"VM_MESSAGEFILE": msg.Path, "VM_CATEGORY": msg.Category, "VM_FLAG": msg.Flag, "VM_CONTEXT": m.Context,
	}
	var to []string
	for a := range strings.SplitSeq(m.Email, "|") {
		if a = strings.TrimSpace(a); a != "" {
			to = append(to, a)
		}
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("Date", now.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	from := "Asterisk PBX"
	if o.FromString != "" {
		from = substVM(o.FromString, vars)
	}
	h("From", mime.QEncoding.Encode("utf-8", from)+" <"+who+">")
	var rcpt []string
	for _, a := range to {
		rcpt = append(rcpt, mime.QEncoding.Encode("utf-8", quoteName(m.FullName))+" <"+a+">")
	}
	h("To", strings.Join(rcpt, ", "))
	subject := ""
	switch {
	case o.EmailSubject != "":
		subject = substVM(o.EmailSubject, vars)
	case msg.Flag != "":
		subject = fmt.Sprintf("New %s message %d in mailbox %s", msg.Flag, msg.Num+1, m.Number)
	default:
		subject = fmt.Sprintf("New message %d in mailbox %s", msg.Num+1, m.Number)
	}
	if o.EmailSubject == "" && !s.cfg.PBXSkip {
		subject = "[PBX]: " + subject
	}
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Message-ID", fmt.Sprintf("<Asterisk-%d-%s-%s-%d@%s>", msg.Num+1, randomHex(4), m.Number, os.Getpid(), s.host))
	if cidNum != "" {
		h("X-Asterisk-CallerID", cidNum)
	}
	if cidName != "" {
		h("X-Asterisk-CallerIDName", mime.QEncoding.Encode("utf-8", cidName))
	}
	h("MIME-Version", "1.0")
	bound := fmt.Sprintf("----voicemail_%d%s%d%s", msg.Num+1, m.Number, os.Getpid(), randomHex(4))
	if o.Attach {
		h("Content-Type", `multipart/mixed; boundary="`+bound+`"`)
		b.WriteString("\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--" + bound + "\r\n")
	}
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	var body string
	if o.EmailBody != "" {
		body = substVM(o.EmailBody, vars)
	} else {
		body = fmt.Sprintf("Dear %s:\n\n\tJust wanted to let you know you were just left a %s long message (number %d)\n"+
			"in mailbox %s from %s, on %s so you might\nwant to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n\n",
			m.FullName, dur, msg.Num+1, m.Number, callerOrUnknown(cidName, cidNum), date)
	}
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\r\n")
	}
	if o.Attach {
		audio, err := os.ReadFile(msg.Path + ".wav")
		if err != nil {
			return Mail{}, fmt.Errorf("voicemail: attachment: %w", err)
		}
		name := filepath.Base(msg.Path) + ".wav"
		fmt.Fprintf(&b, "--%s\r\nContent-Type: audio/x-wav; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n"+
			"Content-Description: Voicemail sound attachment.\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n", bound, name, name)
		enc := base64.StdEncoding.EncodeToString(audio)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n\r\n--" + bound + "--\r\n")
	}
	if len(to) == 0 {
		return Mail{}, errors.New("voicemail: no e-mail address")
	}
	return Mail{From: who, To: to, Data: b.Bytes()}, nil
}

func callerOrUnknown(name, num string) string {
	switch {
	case name != "":
		return name
	case num != "":
		return num
	}
	return "an unknown caller"
}

// callerIDText is ${VM_CALLERID}: "Name" <num>, or whichever is known.
func callerIDText(name, num string) string {
	switch {
	case name != "" && num != "":
		return fmt.Sprintf("%q <%s>", name, num)
	case name != "":
		return name
	case num != "":
		return num
	}
	return "an unknown caller"
}

func quoteName(n string) string {
	if n == "" || !strings.ContainsAny(n, `,;:<>()@"\.[]`) {
		return n
	}
	return strconv.Quote(n)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// substVM replaces ${VM_*} variables and Asterisk's \n and \t escapes in
// emailsubject, emailbody and fromstring.
func substVM(s string, vars map[string]string) string {
	s = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\r`, "").Replace(s)
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(vars[s[i+2:i+j]])
		s = s[i+j+1:]
	}
}

// SplitCallerID splits "Name" <number> (ast_callerid_parse): a bare
// number is a number, bare text a name.
func SplitCallerID(cid string) (num, name string) {
	cid = strings.TrimSpace(cid)
	if i := strings.LastIndexByte(cid, '<'); i >= 0 {
		if j := strings.IndexByte(cid[i:], '>'); j > 0 {
			num = strings.TrimSpace(cid[i+1 : i+j])
			name = strings.Trim(strings.TrimSpace(cid[:i]), `"`)
			return num, name
		}
	}
	if cid == "" || strings.EqualFold(cid, "Unknown") {
		return "", ""
	}
	if strings.Trim(cid, "0123456789+*#") == "" {
		return cid, ""
	}
	return "", strings.Trim(cid, `"`)
}

// strftime formats t with the directives emaildateformat uses.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'd':
			b.WriteString(t.Format("02"))
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'm':
			b.WriteString(t.Format("01"))
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'y':
			b.WriteString(t.Format("06"))
		case 'H':
			b.WriteString(t.Format("15"))
		case 'I':
			b.WriteString(t.Format("03"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'r':
			b.WriteString(t.Format("03:04:05 PM"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
