// Package e2e holds end-to-end tests: an entVoice node runs in the test
// process and real peers (SIPp, baresip) call it over loopback sockets.
package e2e
