//go:build !amd64 || purego

package ops

// cpuPause is a no-op where there is no PAUSE instruction (or no assembly).
func cpuPause() {}
