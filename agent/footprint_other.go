//go:build !linux

package agent

func releaseText() {}
