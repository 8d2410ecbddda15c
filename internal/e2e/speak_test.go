package e2e

// frame is the next 20 ms a phone sends: speech queued with call.say
// (speech tests), else its tone.
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
