package channel

// Service is one switchable feature a tenant or user may be denied
// (hosted mode's service switches). Applications consult the channel before
// using one: Record checks ServiceRecording, AGI checks ServiceAGI, Dial
// checks ServiceOutbound and ServiceInternational for trunk calls.
type Service uint32

// Services that can be switched off per tenant and per user.
const (
	ServiceRecording Service = 1 << iota
	ServiceVoicemail
	ServiceAGI
	ServiceSpeech
	ServiceOutbound
	ServiceInternational
)

// AllServices is every service switched on: static users and the default
// tenant.
const AllServices = ServiceRecording | ServiceVoicemail | ServiceAGI | ServiceSpeech | ServiceOutbound | ServiceInternational

// String names a service as the API and logs do.
func (s Service) String() string {
	switch s {
	case ServiceRecording:
		return "recording"
	case ServiceVoicemail:
		return "voicemail"
	case ServiceAGI:
		return "agi"
	case ServiceSpeech:
		return "speech"
	case ServiceOutbound:
		return "outbound"
	case ServiceInternational:
		return "international"
	}
	return "unknown"
}

// Allowed reports whether every service in s is switched on for the
// channel. The set is given when the channel is created (Options.Services)
// and replaced by SetServices when a realtime change lands mid-call.
func (c *Channel) Allowed(s Service) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services&s == s
}

// SetServices replaces the channel's service set (the node does this when
// a realtime change lands, so a switched-off service fails on next use).
func (c *Channel) SetServices(s Service) {
	c.mu.Lock()
	c.services = s
	c.mu.Unlock()
}

// Services returns the channel's service set.
func (c *Channel) Services() Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services
}
