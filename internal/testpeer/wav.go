package testpeer

import (
	"encoding/binary"
	"fmt"
	"os"
)

// WriteWAV writes 8 kHz mono 16-bit PCM as a RIFF/WAVE file (the format
// baresip's aufile source requires for G.711, test-peers.md §2.1).
func WriteWAV(path string, pcm []int16) error {
	le := binary.LittleEndian
	data := make([]byte, 44+2*len(pcm))
	copy(data[0:], "RIFF")
	le.PutUint32(data[4:], uint32(36+2*len(pcm)))
	copy(data[8:], "WAVEfmt ")
	le.PutUint32(data[16:], 16)
	le.PutUint16(data[20:], 1) // PCM
	le.PutUint16(data[22:], 1) // mono
	le.PutUint32(data[24:], SampleRate)
	le.PutUint32(data[28:], SampleRate*2)
	le.PutUint16(data[32:], 2)
	le.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	le.PutUint32(data[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		le.PutUint16(data[44+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("testpeer: write wav: %w", err)
	}
	return nil
}
