package sipua

import (
	"errors"
	"fmt"
	"sync"

	"github.com/entvoice/entvoice/internal/media"
)

// legSecurity is a leg's media encryption (chan_pjsip's media_encryption):
// "" plain RTP, "sdes" SRTP keyed in SDP (RFC 4568). A leg keeps one key
// of its own per suite for its life, so re-INVITEs repeat it and the SRTP
// contexts go on (RFC 4568 section 7.1.4 allows either).
type legSecurity struct {
	mode string

	mu    sync.Mutex
	keys  map[string]media.Crypto // ours, by suite
	inUse *media.Crypto           // ours, in the description in force
	proto string                  // the audio profile in force
}

func newLegSecurity(ep *Endpoint) *legSecurity {
	return &legSecurity{mode: ep.MediaEncryption}
}

// local is our key for suite, made on first use.
func (ls *legSecurity) local(suite string) (media.Crypto, error) {
	if c, ok := ls.keys[suite]; ok {
		return c, nil
	}
	c, err := media.NewCrypto(0, suite)
	if err != nil {
		return media.Crypto{}, err
	}
	if ls.keys == nil {
		ls.keys = map[string]media.Crypto{}
	}
	ls.keys[suite] = c
	return c, nil
}

// answer applies the leg's mode to an offer: SDES needs a crypto line in a
// suite we take (else ErrSRTPRequired: 488), and a plain leg refuses an
// SRTP-only profile (ErrSRTPRefused: 488, as Asterisk does without
// media_encryption). neg gets the keys.
func (ls *legSecurity) answer(offer *media.SessionDescription, neg *media.Negotiated) error {
	if ls == nil {
		ls = &legSecurity{}
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	switch ls.mode {
	case "sdes":
		if len(offer.Crypto) == 0 {
			return media.ErrSRTPRequired
		}
		mine, keys, err := media.AnswerCrypto(offer.Crypto, ls.local)
		if err != nil {
			return err
		}
		neg.SRTP, ls.inUse, ls.proto = keys, &mine, offer.Proto
		return nil
	case "dtls":
		return fmt.Errorf("%w (DTLS-SRTP is not available on this listener)", media.ErrSRTPRequired)
	default:
		if media.Secure(offer.Proto) {
			return media.ErrSRTPRefused
		}
		ls.inUse, ls.proto = nil, offer.Proto
		return nil
	}
}

// offer fills our offer's profile and crypto lines: every suite, tags 1..n.
func (ls *legSecurity) offer(ld *media.LocalDescription) error {
	if ls == nil {
		ls = &legSecurity{}
	}
	if ls.mode != "sdes" {
		return nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ld.Proto = "RTP/SAVP"
	ld.Crypto = nil
	for i, s := range media.Suites {
		c, err := ls.local(s)
		if err != nil {
			return err
		}
		c.Tag = i + 1
		ld.Crypto = append(ld.Crypto, c)
	}
	return nil
}

// accept takes the answer to our offer: its crypto line must name one we
// offered (RFC 4568 section 7.1.3).
func (ls *legSecurity) accept(ans *media.SessionDescription, neg *media.Negotiated) error {
	if ls == nil {
		ls = &legSecurity{}
	}
	if ls.mode != "sdes" {
		if media.Secure(ans.Proto) {
			return media.ErrSRTPRefused
		}
		return nil
	}
	var ours media.LocalDescription
	if err := ls.offer(&ours); err != nil {
		return err
	}
	keys, err := media.OfferedCrypto(ours.Crypto, ans.Crypto)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, c := range ours.Crypto {
		if c.Tag == keys.Tag {
			c := c
			ls.inUse = &c
		}
	}
	ls.proto = "RTP/SAVP"
	neg.SRTP = keys
	return nil
}

// describe puts the profile and crypto line in force into our description
// (an answer, or a repeat of the session as it is).
func (ls *legSecurity) describe(ld *media.LocalDescription) {
	if ls == nil {
		ls = &legSecurity{}
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.inUse == nil {
		return
	}
	ld.Proto = ls.proto
	if ld.Proto == "" {
		ld.Proto = "RTP/SAVP"
	}
	ld.Crypto = []media.Crypto{*ls.inUse}
}

// encryptionWarning is the Warning text of a 488 for media encryption.
func encryptionWarning(err error) string {
	if errors.Is(err, media.ErrSRTPRefused) {
		return "SRTP not enabled for this endpoint"
	}
	return "SRTP (a=crypto) required"
}
