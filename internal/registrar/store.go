package registrar

import (
	"net/netip"
	"slices"
	"time"
)

// regInput carries what apply needs from one REGISTER.
type regInput struct {
	aor         string
	callID      string
	cseq        uint32
	now         time.Time
	src         netip.AddrPort
	transport   string
	userAgent   string
	maxContacts int
}

// apply updates the bindings of in.aor (RFC 3261 section 10.3 steps 6 and
// 7) and returns copies of the set before and after, and whether it
// changed.
//
// An update whose Call-ID equals the binding's and whose CSeq is not higher
// is ignored (out of order, or a retransmission answered statelessly): the
// binding stays as it is and the response lists it, which keeps REGISTER
// idempotent. RFC 3261 says such a request "fails"; answering 200 with the
// current state is what stateless registrars do with retransmissions.
func (r *Registrar) apply(in regInput, updates []contactUpdate, wildcard bool) (prev, cur []Binding, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.aors[in.aor]
	before := len(bs)
	prev = cloneBindings(bs)
	stale := func(b *Binding) bool { return b.CallID == in.callID && in.cseq <= b.CSeq }

	// Drop bindings that have expired but were not swept yet.
	kept := bs[:0]
	for _, b := range bs {
		if b.Expires.After(in.now) {
			kept = append(kept, b)
		}
	}
	if len(kept) != len(bs) {
		clear(bs[len(kept):])
		changed = true
	}
	bs = kept

	if wildcard {
		// "Contact: *" with Expires: 0 removes every binding (10.3 step 6).
		kept := bs[:0]
		for _, b := range bs {
			if stale(&b) {
				kept = append(kept, b)
			}
		}
		if len(kept) != len(bs) {
			clear(bs[len(kept):])
			changed = true
		}
		bs = kept
	}

	for _, u := range updates {
		idx := -1
		for i := range bs {
			if bs[i].ckey == u.key {
				idx = i
				break
			}
		}
		if idx >= 0 {
			b := &bs[idx]
			if stale(b) {
				continue
			}
			if u.exp == 0 {
				bs = slices.Delete(bs, idx, idx+1)
				changed = true
				continue
			}
			b.params, b.Contact, b.ckey = u.params, u.contact, u.key
			r.fill(b, in, u.exp)
			changed = true
			continue
		}
		if u.exp == 0 {
			continue // removing a binding we do not have
		}
		b := Binding{AOR: in.aor, Contact: u.contact, params: u.params, ckey: u.key}
		r.fill(&b, in, u.exp)
		bs = append(bs, b)
		changed = true
	}

	// Max contacts: replace the bindings that expire soonest among those
	// this request did not touch (Asterisk remove_existing=yes).
	for len(bs) > in.maxContacts {
		victim := -1
		for i := range bs {
			if bs[i].updated.Equal(in.now) && bs[i].CallID == in.callID && bs[i].CSeq == in.cseq {
				continue
			}
			if victim < 0 || bs[i].Expires.Before(bs[victim].Expires) {
				victim = i
			}
		}
		if victim < 0 {
			break // cannot happen: countAdds bounds this request's own
		}
		r.log.Info("AOR full, replacing the contact that expires soonest", "aor", in.aor, "contact", bs[victim].Contact)
		bs = slices.Delete(bs, victim, victim+1)
		changed = true
	}

	if len(bs) == 0 {
		delete(r.aors, in.aor)
	} else {
		r.aors[in.aor] = bs
	}
	r.total += len(bs) - before
	cur = cloneBindings(bs)
	sortNewestFirst(cur)
	return prev, cur, changed
}

func (r *Registrar) fill(b *Binding, in regInput, exp time.Duration) {
	b.Source = in.src
	b.Transport = in.transport
	b.Expires = in.now.Add(exp)
	b.UserAgent = in.userAgent
	b.CallID = in.callID
	b.CSeq = in.cseq
	b.updated = in.now
}
