package ami

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/tenancy"
)

// The PJSIPShow* actions (res/res_pjsip/pjsip_configuration.c, location.c,
// config_auth.c, pjsip_options.c, res_pjsip_registrar.c). entVoice's SIP
// users are, in PJSIP's terms, an endpoint with an auth and an AOR of the
// same name; a trunk is an endpoint with an AOR holding its host as a
// permanent contact. Credentials are not shown: entVoice keeps digests,
// never passwords, and does not hand them out over AMI (Asterisk prints
// the auth's password).

// sorceryBuckets is OBJECT_FIELD_BUCKETS (main/sorcery.c): an object's
// fields live in a hash container of that many buckets, and
// ast_sorcery_objectset_create2 lists them in bucket order, each bucket
// in registration order.
const sorceryBuckets = 29

// astStrHash is ast_str_hash (include/asterisk/strings.h): djb2 with xor,
// kept non-negative.
func astStrHash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h*33 ^ uint32(s[i])
	}
	return h & 0x7fffffff
}

// sorceryOrder puts fields given in registration order into the order
// Asterisk prints them.
func sorceryOrder(fields [][2]string) [][2]string {
	out := make([][2]string, len(fields))
	copy(out, fields)
	sort.SliceStable(out, func(i, j int) bool {
		return astStrHash(out[i][0])%sorceryBuckets < astStrHash(out[j][0])%sorceryBuckets
	})
	return out
}

// camel is ast_to_camel_case: each "_"-separated word capitalised.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(s, "_") {
		if w == "" {
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// objectSet writes ObjectType, ObjectName and the fields
// (ast_sip_sorcery_object_to_ami); rename maps camel names to others.
func (w *builder) objectSet(typ, name string, fields [][2]string, rename map[string]string) {
	w.h("ObjectType", typ)
	w.h("ObjectName", name)
	for _, f := range sorceryOrder(fields) {
		k := camel(f[0])
		if r, ok := rename[k]; ok {
			k = r
		}
		w.h(k, clean(f[1]))
	}
}

// contactID is the sorcery id of a contact: "aor;@md5(uri)" for one that
// registered, "aor@@md5(uri)" for a permanent one (location.c).
func contactID(aor string, c ContactInfo) string {
	sum := md5.Sum([]byte(c.URI))
	sep := ";@"
	if c.Static {
		sep = "@@"
	}
	return aor + sep + hex.EncodeToString(sum[:])
}

// contactList is ast_sip_contact_to_str over an AOR's contacts:
// "aor/uri," for each.
func contactList(e *EndpointInfo) string {
	var b strings.Builder
	for _, c := range e.Contacts {
		b.WriteString(e.Name + "/" + c.URI + ",")
	}
	return b.String()
}

// permanentContacts is the aor "contact" field (contacts_to_str): the
// permanent contacts, without the last comma.
func permanentContacts(e *EndpointInfo) string {
	var b strings.Builder
	for _, c := range e.Contacts {
		if c.Static {
			b.WriteString(e.Name + "/" + c.URI + ",")
		}
	}
	return strings.TrimSuffix(b.String(), ",")
}

func unixText(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// aorFields are an AOR's fields in registration order (location.c).
func aorFields(e *EndpointInfo) [][2]string {
	return [][2]string{
		{"minimum_expiration", strconv.Itoa(e.MinExpires)},
		{"maximum_expiration", strconv.Itoa(e.MaxExpires)},
		{"default_expiration", strconv.Itoa(e.DefaultExpires)},
		{"qualify_frequency", "0"},
		{"qualify_timeout", "3.000000"},
		{"qualify_2xx_only", "false"},
		{"authenticate_qualify", "false"},
		{"max_contacts", strconv.Itoa(e.MaxContacts)},
		{"remove_existing", "true"},
		{"remove_unavailable", "false"},
		{"contact", permanentContacts(e)},
		{"mailboxes", ""},
		{"voicemail_extension", ""},
		{"outbound_proxy", ""},
		{"support_path", "false"},
	}
}

// contactFields are a contact's fields in registration order.
func contactFields(e *EndpointInfo, c ContactInfo) [][2]string {
	endpoint := e.Name
	if c.Static {
		endpoint = ""
	}
	return [][2]string{
		{"uri", c.URI},
		{"path", ""},
		{"expiration_time", unixText(c.Expires)},
		{"qualify_frequency", "0"},
		{"qualify_timeout", "3.000000"},
		{"qualify_2xx_only", "false"},
		{"authenticate_qualify", "no"},
		{"outbound_proxy", ""},
		{"user_agent", c.UserAgent},
		{"endpoint", endpoint},
		{"reg_server", ""},
		{"via_addr", c.ViaAddr},
		{"via_port", strconv.Itoa(c.ViaPort)},
		{"call_id", c.CallID},
		{"prune_on_boot", "no"},
	}
}

// authFields are a user's auth fields in registration order
// (config_auth.c), the secrets left empty.
func authFields(e *EndpointInfo) [][2]string {
	return [][2]string{
		{"username", e.Name},
		{"password", ""},
		{"refresh_token", ""},
		{"oauth_clientid", ""},
		{"oauth_secret", ""},
		{"md5_cred", ""},
		{"realm", e.Realm},
		{"nonce_lifetime", "32"},
		{"auth_type", "digest"},
		{"password_digest", ""},
		{"supported_algorithms_uac", ""},
		{"supported_algorithms_uas", ""},
	}
}

// callerID is ast_callerid_merge with "<unknown>" for neither.
func callerID(name, num string) string {
	switch {
	case name != "" && num != "":
		return `"` + name + `" <` + num + `>`
	case name != "":
		return name
	case num != "":
		return num
	}
	return "<unknown>"
}

// endpointFields are an endpoint's fields in registration order
// (pjsip_configuration.c) with entVoice's values: its own where it has
// the setting, otherwise what entVoice does (media anchored, symmetric
// RTP, contacts rewritten to the source, no 100rel), otherwise Asterisk's
// default.
func (ss *session) endpointFields(e *EndpointInfo) [][2]string {
	f := [][2]string{
		{"context", "default"},
		{"allow", ""},
		{"dtmf_mode", "rfc4733"},
		{"rtp_ipv6", "false"},
		{"rtp_symmetric", "true"},
		{"ice_support", "false"},
		{"use_ptime", "false"},
		{"force_rport", "true"},
		{"rewrite_contact", "true"},
		{"transport", ""},
		{"outbound_proxy", ""},
		{"moh_suggest", "default"},
		{"100rel", "no"},
		{"timers", "yes"},
		{"timers_min_se", "90"},
		{"timers_sess_expires", "1800"},
		{"auth", ""},
		{"outbound_auth", ""},
		{"aors", ""},
		{"media_address", ""},
		{"bind_rtp_to_media_address", "false"},
		{"identify_by", "username,ip"},
		{"direct_media", "false"},
		{"direct_media_method", "invite"},
		{"trust_connected_line", "yes"},
		{"send_connected_line", "yes"},
		{"connected_line_method", "invite"},
		{"direct_media_glare_mitigation", "none"},
		{"disable_direct_media_on_nat", "false"},
		{"callerid", ""},
		{"callerid_privacy", "allowed_not_screened"},
		{"callerid_tag", ""},
		{"trust_id_inbound", "false"},
		{"trust_id_outbound", "false"},
		{"send_pai", "false"},
		{"send_rpid", "false"},
		{"rpid_immediate", "false"},
		{"send_diversion", "true"},
		{"send_history_info", "false"},
		{"mailboxes", ""},
		{"voicemail_extension", ""},
		{"aggregate_mwi", "true"},
		{"mwi_subscribe_replaces_unsolicited", "no"},
		{"media_encryption", "no"},
		{"use_avpf", "false"},
		{"force_avp", "false"},
		{"media_use_received_transport", "false"},
		{"rtp_keepalive", "0"},
		{"rtp_timeout", "0"},
		{"rtp_timeout_hold", "0"},
		{"rtp_port_start", "0"},
		{"rtp_port_end", "0"},
		{"one_touch_recording", "false"},
		{"inband_progress", "false"},
		{"call_group", ""},
		{"pickup_group", ""},
		{"named_call_group", ""},
		{"named_pickup_group", ""},
		{"device_state_busy_at", "0"},
		{"t38_udptl", "false"},
		{"t38_udptl_ec", "none"},
		{"t38_udptl_maxdatagram", "0"},
		{"fax_detect", "false"},
		{"fax_detect_timeout", "0"},
		{"t38_udptl_nat", "false"},
		{"t38_udptl_ipv6", "false"},
		{"t38_bind_udptl_to_media_address", "false"},
		{"tone_zone", ""},
		{"language", ""},
		{"record_on_feature", "automixmon"},
		{"record_off_feature", "automixmon"},
		{"allow_transfer", "true"},
		{"user_eq_phone", "false"},
		{"moh_passthrough", "false"},
		{"sdp_owner", "-"},
		{"sdp_session", "Asterisk"},
		{"tos_audio", "0"},
		{"tos_video", "0"},
		{"cos_audio", "0"},
		{"cos_video", "0"},
		{"allow_subscribe", "true"},
		{"sub_min_expiry", "0"},
		{"from_user", ""},
		{"from_domain", ""},
		{"mwi_from_user", ""},
		{"rtp_engine", "asterisk"},
		{"dtls_verify", "No"},
		{"dtls_rekey", "0"},
		{"dtls_auto_generate_cert", "No"},
		{"dtls_cert_file", ""},
		{"dtls_private_key", ""},
		{"dtls_cipher", ""},
		{"dtls_ca_file", ""},
		{"dtls_ca_path", ""},
		{"dtls_setup", "active"},
		{"dtls_fingerprint", "SHA-256"},
		{"srtp_tag_32", "false"},
		{"media_encryption_optimistic", "false"},
		{"g726_non_standard", "false"},
		{"redirect_method", "user"},
		{"follow_redirect_methods", ""},
		{"set_var", ""},
		{"message_context", ""},
		{"accountcode", ""},
		{"acl", ""},
		{"contact_acl", ""},
		{"subscribe_context", ""},
		{"contact_user", ""},
		{"preferred_codec_only", "false"},
		{"asymmetric_rtp_codec", "false"},
		{"rtcp_mux", "false"},
		{"allow_overlap", "true"},
		{"overlap_context", ""},
		{"refer_blind_progress", "true"},
		{"notify_early_inuse_ringing", "false"},
		{"max_audio_streams", "1"},
		{"max_video_streams", "1"},
		{"bundle", "false"},
		{"webrtc", "no"},
		{"incoming_mwi_mailbox", ""},
		{"follow_early_media_fork", "true"},
		{"accept_multiple_sdp_answers", "false"},
		{"suppress_q850_reason_headers", "false"},
		{"ignore_183_without_sdp", "false"},
		{"incoming_call_offer_pref", "local"},
		{"outgoing_call_offer_pref", "remote_merge"},
		{"codec_prefs_incoming_offer", "prefer: pending, operation: intersect, keep: all, transcode: allow"},
		{"codec_prefs_outgoing_offer", "prefer: pending, operation: union, keep: all, transcode: allow"},
		{"codec_prefs_incoming_answer", "prefer: pending, operation: intersect, keep: all"},
		{"codec_prefs_outgoing_answer", "prefer: pending, operation: intersect, keep: all"},
		{"stir_shaken", "no"},
		{"stir_shaken_profile", ""},
		{"allow_unauthenticated_options", "false"},
		{"geoloc_incoming_call_profile", ""},
		{"geoloc_outgoing_call_profile", ""},
		{"security_mechanisms", ""},
		{"security_negotiation", "no"},
		{"send_aoc", "false"},
		{"tenantid", ""},
		{"suppress_moh_on_sendonly", "false"}}
	allow := "(nothing)"
	if len(e.Codecs) > 0 {
		allow = "(" + strings.Join(e.Codecs, "|") + ")"
	}
	auth := e.Name
	if e.Trunk {
		auth = ""
	}
	tenant := ""
	if !tenancy.IsDefault(e.Tenant) {
		tenant = e.Tenant
	}
	for i := range f {
		switch f[i][0] {
		case "context":
			f[i][1] = ss.shownContext(e.Context)
		case "allow":
			f[i][1] = allow
		case "transport":
			f[i][1] = e.Transport
		case "auth":
			f[i][1] = auth
		case "aors":
			f[i][1] = e.Name
		case "callerid":
			f[i][1] = callerID(e.CallerName, e.CallerNum)
		case "language":
			f[i][1] = e.Language
		case "accountcode":
			f[i][1] = e.AccountCode
		case "tenantid":
			f[i][1] = tenant
		case "identify_by":
			if e.Trunk {
				f[i][1] = "ip"
			}
		}
	}
	return f
}

// shownContext is a context as the session knows it (bare for a tenant).
func (ss *session) shownContext(nodeCtx string) string {
	if c, ok := ss.visibleContext(nodeCtx); ok {
		return c
	}
	return nodeCtx
}

// endpoints returns the endpoints the session sees, by name, or answers
// "No <what> found" (with Asterisk's trailing newline) when there are none.
func (ss *session) endpoints(m *Message, what string) ([]EndpointInfo, bool) {
	var eps []EndpointInfo
	if n := ss.srv.o.Node; n != nil {
		eps = n.Endpoints(ss.tenant)
	}
	// By name; an admin sees each hosted tenant's endpoints after the
	// default tenant's of the same name.
	sort.SliceStable(eps, func(i, j int) bool {
		if eps[i].Name != eps[j].Name {
			return eps[i].Name < eps[j].Name
		}
		return tenancy.IsDefault(eps[i].Tenant) && !tenancy.IsDefault(eps[j].Tenant) || eps[i].Tenant < eps[j].Tenant
	})
	if len(eps) == 0 && what != "" {
		ss.reply(errorResponse(m, "No "+what+" found\n"))
		return nil, false
	}
	return eps, true
}

// item starts a list item event with the ActionID after Event
// (ast_sip_create_ami_event).
func item(m *Message, event string) *builder {
	w := &builder{}
	w.h("Event", event)
	if id := m.Get("ActionID"); id != "" {
		w.h("ActionID", id)
	}
	return w
}

// activeChannels counts the live channels of each tenant's device the
// session sees (two tenants may both have a PJSIP/1001).
func (ss *session) activeChannels() map[devKey]int {
	chans := map[devKey]int{}
	if ss.srv.o.Control != nil {
		ctx, cancel := ss.actionCtx(10 * time.Second)
		list, _ := ss.srv.o.Control.Channels(ctx, ss.tenant)
		cancel()
		for _, c := range list {
			chans[tenantDevice(c.Tenant, device(c.Channel))]++
		}
	}
	return chans
}

// pjsipShowEndpoints is ami_show_endpoints (format_ami_endpoints).
func (ss *session) pjsipShowEndpoints(m *Message) bool {
	eps, ok := ss.endpoints(m, "endpoints")
	if !ok {
		return true
	}
	ss.reply(listAck(m, "A listing of Endpoints follows, presented as EndpointList events"))
	chans := ss.activeChannels()
	for _, e := range eps {
		w := item(m, "EndpointList")
		w.h("ObjectType", "endpoint")
		w.h("ObjectName", e.Name)
		w.h("Transport", e.Transport)
		w.h("Aor", e.Name)
		if e.Trunk {
			w.h("Auths", "")
		} else {
			w.h("Auths", e.Name)
		}
		w.h("OutboundAuths", "")
		w.h("Contacts", contactList(&e))
		w.h("DeviceState", devText[ss.srv.dev.State(e.Tenant, "PJSIP/"+e.Name)])
		w.h("ActiveChannels", strconv.Itoa(chans[tenantDevice(e.Tenant, "PJSIP/"+e.Name)]))
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "EndpointListComplete", len(eps)))
	return true
}

// pjsipShowEndpoint is ami_show_endpoint: EndpointDetail, then the
// endpoint formatters in res_pjsip's registration order: auths
// (AuthDetail), transport, AORs (AorDetail), contacts
// (ContactStatusDetail), identify. entVoice's endpoints name no transport
// object of their own, so no TransportDetail follows; a trunk's identify
// is not listed either.
func (ss *session) pjsipShowEndpoint(m *Message) bool {
	name := m.Get("Endpoint")
	if name == "" {
		ss.reply(errorResponse(m, "PJSIPShowEndpoint requires an endpoint name\n"))
		return true
	}
	if len(name) >= 6 && strings.EqualFold(name[:6], "pjsip/") {
		name = name[6:]
	}
	eps, _ := ss.endpoints(m, "")
	// An admin names a hosted tenant's endpoint as the registrar keys it
	// ("acme~1001"), the default tenant's bare.
	var e *EndpointInfo
	for i := range eps {
		if tenancy.AOR(eps[i].Tenant, eps[i].Name) == name || ss.tenant != "" && eps[i].Name == name {
			e = &eps[i]
			break
		}
	}
	if e == nil {
		ss.reply(errorResponse(m, "Unable to retrieve endpoint "+name+"\n"))
		return true
	}
	ss.reply(listAck(m, "Following are Events for each object associated with the Endpoint"))
	w := item(m, "EndpointDetail")
	w.objectSet("endpoint", e.Name, ss.endpointFields(e), nil)
	w.h("DeviceState", devText[ss.srv.dev.State(e.Tenant, "PJSIP/"+e.Name)])
	w.h("ActiveChannels", strconv.Itoa(ss.activeChannels()[tenantDevice(e.Tenant, "PJSIP/"+e.Name)]))
	ss.reply(w.end())
	n := 0
	if !e.Trunk {
		w := item(m, "AuthDetail")
		w.objectSet("auth", e.Name, authFields(e), nil)
		w.h("EndpointName", e.Name)
		ss.reply(w.end())
		n++
	}
	w = item(m, "AorDetail")
	w.aorBody(e)
	w.h("EndpointName", e.Name)
	ss.reply(w.end())
	n++
	for _, c := range e.Contacts {
		ss.reply(contactStatusDetail(m, e, c, e.Name))
		n++
	}
	ss.reply(listComplete(m, "EndpointDetailComplete", n+1))
	return true
}

// contactStatusDetail is ast_sip_format_contact_ami (pjsip_options.c).
// endpoint is the endpoint asked about, or the contact's own.
func contactStatusDetail(m *Message, e *EndpointInfo, c ContactInfo, endpoint string) []byte {
	w := item(m, "ContactStatusDetail")
	w.h("AOR", e.Name)
	w.h("URI", c.URI)
	w.h("UserAgent", c.UserAgent)
	w.h("RegExpire", unixText(c.Expires))
	if c.ViaAddr != "" {
		via := c.ViaAddr
		if c.ViaPort != 0 {
			via += ":" + strconv.Itoa(c.ViaPort)
		}
		w.h("ViaAddress", via)
	}
	if c.CallID != "" {
		w.h("CallID", c.CallID)
	}
	w.h("Status", "NonQualified")
	w.h("RoundtripUsec", "N/A")
	w.h("EndpointName", endpoint)
	w.h("ID", contactID(e.Name, c))
	w.h("AuthenticateQualify", "0")
	w.h("OutboundProxy", "")
	w.h("Path", "")
	w.h("QualifyFrequency", "0")
	w.h("QualifyTimeout", "3.000")
	w.h("Qualify2xxOnly", "0")
	return w.end()
}

// pjsipShowRegistrationInboundContactStatuses is res_pjsip_registrar.c
// ami_show_registration_contact_statuses: a ContactStatusDetail for every
// registered contact (permanent ones are no stored contacts).
func (ss *session) pjsipShowRegistrationInboundContactStatuses(m *Message) bool {
	eps, _ := ss.endpoints(m, "")
	ss.reply(listAck(m, "Following are ContactStatusEvents for each Inbound registration"))
	n := 0
	for _, e := range eps {
		for _, c := range e.Contacts {
			if !c.Static {
				ss.reply(contactStatusDetail(m, &e, c, e.Name))
				n++
			}
		}
	}
	ss.reply(listComplete(m, "ContactStatusDetailComplete", n))
	return true
}

// aorBody is sip_aor_to_ami with format_ami_aor_handler's totals: the
// permanent contacts are "Contacts" there.
func (w *builder) aorBody(e *EndpointInfo) {
	w.objectSet("aor", e.Name, aorFields(e), map[string]string{"Contact": "Contacts"})
	static := 0
	for _, c := range e.Contacts {
		if c.Static {
			static++
		}
	}
	w.h("TotalContacts", strconv.Itoa(len(e.Contacts)))
	w.h("ContactsRegistered", strconv.Itoa(len(e.Contacts)-static))
}

// pjsipShowAors is ami_show_aors: one AorList per AOR.
func (ss *session) pjsipShowAors(m *Message) bool {
	eps, ok := ss.endpoints(m, "AORs")
	if !ok {
		return true
	}
	ss.reply(listAck(m, "A listing of AORs follows, presented as AorList events"))
	for _, e := range eps {
		w := item(m, "AorList")
		w.objectSet("aor", e.Name, aorFields(&e), map[string]string{"Contact": "Contacts"})
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "AorListComplete", len(eps)))
	return true
}

// pjsipShowAuths is ami_show_auths: one AuthList per user's auth.
func (ss *session) pjsipShowAuths(m *Message) bool {
	eps, _ := ss.endpoints(m, "")
	var users []EndpointInfo
	for _, e := range eps {
		if !e.Trunk {
			users = append(users, e)
		}
	}
	if len(users) == 0 {
		ss.reply(errorResponse(m, "No Auths found\n"))
		return true
	}
	ss.reply(listAck(m, "A listing of Auths follows, presented as AuthList events"))
	for _, e := range users {
		w := item(m, "AuthList")
		w.objectSet("auth", e.Name, authFields(&e), nil)
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "AuthListComplete", len(users)))
	return true
}

// pjsipShowContacts is ami_show_contacts: every contact of every AOR as
// ContactList. entVoice does not qualify contacts: their status is
// NonQualified, as Asterisk's with qualify_frequency=0.
func (ss *session) pjsipShowContacts(m *Message) bool {
	eps, _ := ss.endpoints(m, "")
	n := 0
	for _, e := range eps {
		n += len(e.Contacts)
	}
	if n == 0 {
		ss.reply(errorResponse(m, "No Contacts found\n"))
		return true
	}
	ss.reply(listAck(m, "A listing of Contacts follows, presented as ContactList events"))
	for _, e := range eps {
		for _, c := range e.Contacts {
			w := item(m, "ContactList")
			w.objectSet("contact", contactID(e.Name, c), contactFields(&e, c), nil)
			w.h("Status", "NonQualified")
			w.h("RoundtripUsec", "N/A")
			ss.reply(w.end())
		}
	}
	ss.reply(listComplete(m, "ContactListComplete", n))
	return true
}

// pjsipShowRegistrationsInbound is res_pjsip_registrar.c
// ami_show_registrations: one InboundRegistrationDetail per AOR of every
// endpoint (registered or not), its fields as ast_sip_sorcery_object_to_ami
// prints them, then its contacts.
func (ss *session) pjsipShowRegistrationsInbound(m *Message) bool {
	eps, _ := ss.endpoints(m, "")
	ss.reply(listAck(m, "Following are Events for each Inbound registration"))
	for _, e := range eps {
		w := item(m, "InboundRegistrationDetail")
		w.objectSet("aor", e.Name, aorFields(&e), nil)
		w.h("Contacts", contactList(&e))
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "InboundRegistrationDetailComplete", len(eps)))
	return true
}
