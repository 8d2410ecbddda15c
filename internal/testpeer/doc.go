// Package testpeer is the harness the end-to-end tests use to drive real
// third-party SIP peers against entVoice: SIPp (sip-tester 3.6.1) scenarios
// and runners (RunSIPp, StartSIPp), RTP pcap generation for SIPp's
// play_pcap_audio, a small RTP recorder with a Goertzel tone detector,
// free-port helpers, and a baresip runner (StartBaresip, ctrl_tcp control).
//
// Everything here is test support: functions take a testing.TB, register
// their cleanups with t.Cleanup and skip the test (t.Skip) when the external
// program is not installed.
package testpeer
