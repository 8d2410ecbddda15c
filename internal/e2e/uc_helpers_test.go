package e2e

// lastSecond is the last second (8000 samples) of pcm, or all of it.
func lastSecond(pcm []int16) []int16 {
	if len(pcm) > 8000 {
		return pcm[len(pcm)-8000:]
	}
	return pcm
}
