//go:build !linux

package bench

import "errors"

var errNoProc = errors.New("bench: no /proc on this OS")

// ProcessCPU is only measured on Linux: 0 elsewhere.
func ProcessCPU() float64 { return 0 }

// PeakRSS is only available on Linux.
func PeakRSS() (int64, error) { return 0, errNoProc }

// RSS is only available on Linux.
func RSS() (int64, error) { return 0, errNoProc }

// ResetPeakRSS is only available on Linux.
func ResetPeakRSS() error { return errNoProc }

// LoadAvg returns zeros outside Linux.
func LoadAvg() [3]float64 { return [3]float64{} }

// CPUModel returns "" outside Linux.
func CPUModel() string { return "" }

// FSType returns "unknown" outside Linux.
func FSType(string) string { return "unknown" }

// CPUSample is unavailable outside Linux.
type CPUSample struct{}

// SampleCPU returns an empty sample outside Linux.
func SampleCPU() CPUSample { return CPUSample{} }

// OtherCPU is unknown (−1) outside Linux.
func OtherCPU(a, b CPUSample, wall float64, ncpu int) (others, steal float64) { return -1, -1 }
