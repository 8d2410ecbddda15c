package sipua

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/entvoice/entvoice/internal/media"
)

// legSecurity is a leg's media encryption (chan_pjsip's media_encryption):
// "" plain RTP, "sdes" SRTP keyed in SDP (RFC 4568). A leg keeps one key
// of its own per suite for its life, so re-INVITEs repeat it and the SRTP
// contexts go on (RFC 4568 section 7.1.4 allows either).
type legSecurity struct {
	mode string
	// identity is the node's DTLS certificate (mode dtls).
	identity func() (*media.DTLSIdentity, error)

	mu sync.Mutex
	// web is our side of a WebRTC stream (mode dtls) and params what
	// the media session starts with.
	web    *media.LocalWebRTC
	params *media.WebRTCParams
	keys   map[string]media.Crypto // ours, by suite
	inUse  *media.Crypto           // ours, in the description in force
	proto  string                  // the audio profile in force
}

func (s *Server) newLegSecurity(ep *Endpoint) *legSecurity {
	return &legSecurity{mode: ep.MediaEncryption, identity: s.dtlsIdentity}
}

// dtlsIdentity is the node's DTLS certificate for WebRTC, made on first
// use (RFC 8827 section 6.5: self-signed, bound by its SDP fingerprint).
func (s *Server) dtlsIdentity() (*media.DTLSIdentity, error) {
	s.dtlsOnce.Do(func() { s.dtlsID, s.dtlsErr = media.NewDTLSIdentity() })
	return s.dtlsID, s.dtlsErr
}

// webrtcSide makes our side of a WebRTC stream for the peer's description
// (setup: passive in an answer, actpass in an offer: we are always the
// DTLS server, the browser the client).
func (ls *legSecurity) webrtcSide(peer *media.SessionDescription, setup string) error {
	id, err := ls.identity()
	if err != nil {
		return err
	}
	if ls.web == nil {
		ufrag, pwd := media.NewICECredentials()
		ls.web = &media.LocalWebRTC{Ufrag: ufrag, Pwd: pwd, Fingerprint: id.Fingerprint, Mid: "0"}
	}
	ls.web.Setup = setup
	if peer != nil {
		if peer.Mid != "" {
			ls.web.Mid = peer.Mid
		}
		ls.web.Bundle = slices.Contains(peer.Bundle, ls.web.Mid)
		ls.params = &media.WebRTCParams{Identity: id, LocalUfrag: ls.web.Ufrag, LocalPwd: ls.web.Pwd,
			RemoteUfrag: peer.ICEUfrag, RemoteFingerprint: peer.Fingerprint}
	}
	return nil
}

// start starts a WebRTC stream's transport once the peer's description
// is known (nothing for other modes).
func (ls *legSecurity) start(sess *media.Session) error {
	if ls == nil {
		return nil
	}
	ls.mu.Lock()
	p := ls.params
	ls.mu.Unlock()
	if p == nil {
		return nil
	}
	return sess.StartWebRTC(*p)
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
		if !offer.WebRTC() || !offer.RTCPMux {
			return fmt.Errorf("%w (a WebRTC offer: UDP/TLS/RTP/SAVPF with ICE, a fingerprint and rtcp-mux)", media.ErrSRTPRequired)
		}
		if strings.EqualFold(offer.Setup, "passive") {
			return fmt.Errorf("%w (the peer wants to be the DTLS server; entVoice is always the server)", media.ErrSRTPRequired)
		}
		if err := ls.webrtcSide(offer, "passive"); err != nil {
			return err
		}
		ls.proto = offer.Proto
		return nil
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
	if ls.mode == "dtls" {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		if err := ls.webrtcSide(nil, "actpass"); err != nil {
			return err
		}
		ld.Proto, ld.WebRTC = "UDP/TLS/RTP/SAVPF", ls.web
		return nil
	}
	if ls.mode != "sdes" {
		return nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ld.Proto = "RTP/SAVP"
	ld.Crypto = nil
	for i, s := range media.Suites() {
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
	if ls.mode == "dtls" {
		if !ans.WebRTC() || !ans.RTCPMux || !strings.EqualFold(ans.Setup, "active") {
			return fmt.Errorf("%w (a WebRTC answer with setup:active)", media.ErrSRTPRequired)
		}
		ls.mu.Lock()
		defer ls.mu.Unlock()
		return ls.webrtcSide(ans, "actpass")
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
	if ls.web != nil {
		ld.Proto, ld.WebRTC = "UDP/TLS/RTP/SAVPF", ls.web
		return
	}
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
