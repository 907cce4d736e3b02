//go:build race

package agent

// raceEnabled: the race detector makes TLS handshakes about ten times
// dearer, so the reconnect harness runs fewer agents under it.
const raceEnabled = true
