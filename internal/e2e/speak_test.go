package e2e

// A phone can speak: audio queued with say goes out instead of its tone,
// 20 ms per packet, as a caller's voice would (speech tests).

// say queues pcm (8 kHz) to be sent on the call after what is queued.
func (c *call) say(pcm []int16) {
	c.p.mu.Lock()
	c.p.speak = append(c.p.speak, pcm...)
	c.p.mu.Unlock()
}

// spoken reports whether everything queued with say has been sent.
func (c *call) spoken() bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return len(c.p.speak) == 0
}

// frame is the next 20 ms to send: queued speech, else the tone.
func (p *phone) frame(tone []int16) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.speak) == 0 {
		return tone
	}
	n := min(len(tone), len(p.speak))
	out := make([]int16, len(tone))
	copy(out, p.speak[:n])
	p.speak = p.speak[n:]
	return out
}

// heardPCM is everything the phone heard so far.
func (p *phone) heardPCM() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.heard...)
}
