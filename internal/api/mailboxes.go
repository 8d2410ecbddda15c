package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// Voicemail is the node's voicemail store as the API sees it: the
// messages of any mailbox (voicemail.conf's or provisioned), which live on
// the node's disk (voicemail.Service). Nil on a central server without a
// node of its own: the messages endpoints answer 503.
type Voicemail interface {
	Lookup(tenant, context, number string) (*voicemail.Mailbox, bool)
	List(ctx context.Context, m *voicemail.Mailbox, folder string) ([]*voicemail.Message, error)
	Message(m *voicemail.Mailbox, id string) (*voicemail.Message, error)
	Delete(ctx context.Context, m *voicemail.Mailbox, id string) error
}

func (a *API) mailboxRoutes() {
	a.handle("GET", "/tenants/{tenant}/mailboxes", a.listMailboxes)
	a.handle("POST", "/tenants/{tenant}/mailboxes", a.createMailbox)
	a.handle("GET", "/tenants/{tenant}/mailboxes/{mailbox}", a.getMailbox)
	a.handle("PATCH", "/tenants/{tenant}/mailboxes/{mailbox}", a.patchMailbox)
	a.handle("DELETE", "/tenants/{tenant}/mailboxes/{mailbox}", a.deleteMailbox)
	a.handle("GET", "/tenants/{tenant}/mailboxes/{mailbox}/messages", a.listMessages)
	a.handle("GET", "/tenants/{tenant}/mailboxes/{mailbox}/messages/{id}", a.getMessage)
	a.handle("GET", "/tenants/{tenant}/mailboxes/{mailbox}/messages/{id}/audio", a.messageAudio)
	a.handle("DELETE", "/tenants/{tenant}/mailboxes/{mailbox}/messages/{id}", a.deleteMessage)
}

// splitMailbox reads "mailbox[@context]" (context "default" when absent).
func splitMailbox(s string) (number, vmContext string) {
	number, vmContext, _ = strings.Cut(s, "@")
	if vmContext == "" {
		vmContext = voicemail.DefaultContext
	}
	return number, vmContext
}

type mailboxCreate struct {
	// Mailbox is "1001" or "1001@sales"; Context, when set, wins.
	Mailbox  string            `json:"mailbox"`
	Context  string            `json:"context"`
	PIN      string            `json:"pin"`
	FullName string            `json:"fullname"`
	Email    string            `json:"email"`
	Pager    string            `json:"pager"`
	User     string            `json:"user"`
	Options  map[string]string `json:"options"`
}

type mailboxPatch struct {
	PIN      *string `json:"pin"`
	FullName *string `json:"fullname"`
	Email    *string `json:"email"`
	Pager    *string `json:"pager"`
	User     *string `json:"user"`
	// Options are merged: a key with an empty value removes the option.
	Options map[string]string `json:"options"`
}

func (a *API) listMailboxes(w http.ResponseWriter, r *http.Request, p *principal) error {
	return listByID(a, w, r, p, a.repo.ListMailboxes, func(x provision.Mailbox) int64 { return x.ID })
}

func (a *API) createMailbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in mailboxCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	number, vmContext := splitMailbox(in.Mailbox)
	if in.Context != "" {
		vmContext = in.Context
	}
	m, err := a.repo.CreateMailbox(r.Context(), provision.Mailbox{Tenant: tid, Context: vmContext, Mailbox: number, FullName: in.FullName,
		Email: in.Email, Pager: in.Pager, User: in.User, Options: in.Options}, in.PIN)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/tenants/"+url.PathEscape(tid)+"/mailboxes/"+url.PathEscape(m.Mailbox+"@"+m.Context))
	return writeJSON(w, http.StatusCreated, m)
}

func (a *API) getMailbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	number, vmContext := splitMailbox(r.PathValue("mailbox"))
	m, err := a.repo.GetMailbox(r.Context(), tid, vmContext, number)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) patchMailbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in mailboxPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	number, vmContext := splitMailbox(r.PathValue("mailbox"))
	m, err := a.repo.UpdateMailbox(r.Context(), tid, vmContext, number, in.PIN, func(m *provision.Mailbox) error {
		setIf(&m.FullName, in.FullName)
		setIf(&m.Email, in.Email)
		setIf(&m.Pager, in.Pager)
		setIf(&m.User, in.User)
		for k, v := range in.Options {
			if v == "" {
				delete(m.Options, k)
			} else {
				m.Options[k] = v
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) deleteMailbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	number, vmContext := splitMailbox(r.PathValue("mailbox"))
	if err := a.repo.DeleteMailbox(r.Context(), tid, vmContext, number); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// messageJSON is a message as the API shows it.
type messageJSON struct {
	ID       string    `json:"id"`
	Folder   string    `json:"folder"`
	Number   int       `json:"number"`
	CallerID string    `json:"callerid"`
	Received time.Time `json:"received"`
	Duration int       `json:"duration"`
	Flag     string    `json:"flag"`
	Category string    `json:"category,omitempty"`
	Context  string    `json:"context"`
	Exten    string    `json:"exten"`
	Channel  string    `json:"channel"`
}

func toMessageJSON(m *voicemail.Message) messageJSON {
	return messageJSON{ID: m.ID, Folder: m.Folder, Number: m.Num, CallerID: m.CallerID, Received: m.OrigTime.UTC(),
		Duration: m.Duration, Flag: m.Flag, Category: m.Category, Context: m.Context, Exten: m.Exten, Channel: m.CallerChan}
}

// messagesMailbox finds the mailbox a messages request is about, in the
// caller's tenant (a voicemail.conf mailbox belongs to the default one).
func (a *API) messagesMailbox(r *http.Request, p *principal) (*voicemail.Mailbox, error) {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return nil, err
	}
	if a.opts.Voicemail == nil {
		return nil, &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "voicemail messages are kept on the PBX nodes; this server has no node of its own"}
	}
	number, vmContext := splitMailbox(r.PathValue("mailbox"))
	m, ok := a.opts.Voicemail.Lookup(tid, vmContext, number)
	if !ok {
		return nil, notFound("mailbox %s@%s not found", number, vmContext)
	}
	return m, nil
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r, "folder"); err != nil {
		return err
	}
	m, err := a.messagesMailbox(r, p)
	if err != nil {
		return err
	}
	folder := ""
	if f := r.URL.Query().Get("folder"); f != "" {
		name, _, ok := voicemail.FolderByName(f)
		if !ok {
			return badField("folder", "%q is not a folder (%s)", f, strings.Join(voicemail.Folders, ", "))
		}
		folder = name
	}
	msgs, err := a.opts.Voicemail.List(r.Context(), m, folder)
	if err != nil {
		return err
	}
	out := list[messageJSON]{Items: make([]messageJSON, 0, len(msgs))}
	for _, msg := range msgs {
		out.Items = append(out.Items, toMessageJSON(msg))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) message(r *http.Request, p *principal) (*voicemail.Mailbox, *voicemail.Message, error) {
	m, err := a.messagesMailbox(r, p)
	if err != nil {
		return nil, nil, err
	}
	msg, err := a.opts.Voicemail.Message(m, r.PathValue("id"))
	if errors.Is(err, voicemail.ErrNoMessage) {
		return nil, nil, notFound("message %q not found in mailbox %s", r.PathValue("id"), m.ID())
	}
	return m, msg, err
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, msg, err := a.message(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMessageJSON(msg))
}

// messageAudio streams the message's WAV file (Range requests allowed).
func (a *API) messageAudio(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, msg, err := a.message(r, p)
	if err != nil {
		return err
	}
	f, err := os.Open(msg.Path + ".wav")
	if errors.Is(err, os.ErrNotExist) {
		return notFound("message %q has no audio", msg.ID)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+msg.ID+`.wav"`)
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, msg, err := a.message(r, p)
	if err != nil {
		return err
	}
	if err := a.opts.Voicemail.Delete(r.Context(), m, msg.ID); err != nil {
		if errors.Is(err, voicemail.ErrNoMessage) {
			return notFound("message %q not found in mailbox %s", msg.ID, m.ID())
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
