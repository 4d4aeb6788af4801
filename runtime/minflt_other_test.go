//go:build !unix

package runtime_test

// minorFaults is not measured here.
func minorFaults() int64 { return -1 }
