//go:build !regionprof

package ops

// Without the regionprof build tag the region profile hooks of fork do nothing (see regionprof.go).

type regionStart struct{}

func regionBegin() regionStart { return regionStart{} }

func regionEnd(regionStart) {}
