// Package media is entVoice's RTP media layer: G.711 codecs, SDP offer/answer
// (RFC 3264), an RTP port pool, per-leg RTP sessions with symmetric RTP,
// RFC 4733 DTMF, a single-thread 20 ms pacer, WAV prompts with a shared cache,
// energy/silence/tone analysis and a two-leg RTP bridge.
//
// Everything here runs on 8 kHz narrowband audio in 20 ms frames of 160
// int16 samples (FrameSamples), which is what G.711 telephony uses.
package media
