//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcessCPU returns this process's user + system CPU seconds so far (all threads).
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// procStatusBytes returns a "kB" field of /proc/self/status (VmHWM, VmRSS, RssFile, ...) in bytes.
func procStatusBytes(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/self/status %s: %w", field, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("bench: /proc/self/status has no %s", field)
}

// PeakRSS returns the process's peak resident set size (VmHWM), which counts the pages of mmap'd
// weight files that were touched as well as anonymous memory.
func PeakRSS() (int64, error) { return procStatusBytes("VmHWM") }

// RSS returns the current resident set size (VmRSS).
func RSS() (int64, error) { return procStatusBytes("VmRSS") }

// ResetPeakRSS sets VmHWM back to the current RSS (writes 5 to /proc/self/clear_refs, Linux ≥ 4.0),
// so that the next PeakRSS covers only what follows.
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// LoadAvg returns the 1, 5 and 15 minute load averages (zeros where /proc/loadavg is missing).
func LoadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(b)) {
		if i >= 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// CPUModel returns the "model name" of /proc/cpuinfo ("" if unknown).
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// FSType names the filesystem that holds dir ("ext4", "tmpfs", ... or the magic number in hex).
func FSType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x6969:
		return "nfs"
	case 0x65735546:
		return "fuse"
	}
	return fmt.Sprintf("0x%x", uint64(st.Type))
}

// CPUSample is a snapshot of the CPU time of the whole machine and of this process, in clock ticks.
type CPUSample struct {
	Busy, Steal, Own int64 // busy (user, nice, system, irq, softirq) of all CPUs; stolen by the hypervisor; this process (utime+stime)
	ok               bool
}

// SampleCPU reads /proc/stat and /proc/self/stat.
func SampleCPU() CPUSample {
	var s CPUSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	v := make([]int64, len(f))
	for i := 1; i < len(f); i++ {
		v[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	s.Busy = v[1] + v[2] + v[3] + v[6] + v[7] // user nice system irq softirq
	s.Steal = v[8]
	b, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(rest) < 13 {
		return s
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	s.Own, s.ok = ut+st, true
	return s
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 100

// OtherCPU returns the share of all CPUs that other processes used (busy time not ours) and that the
// hypervisor stole between a and b, wall seconds apart; −1, −1 when unknown.
func OtherCPU(a, b CPUSample, wall float64, ncpu int) (others, steal float64) {
	if !a.ok || !b.ok || wall <= 0 || ncpu <= 0 {
		return -1, -1
	}
	capacity := wall * float64(ncpu) * clockTick
	others = float64((b.Busy-a.Busy)-(b.Own-a.Own)) / capacity
	return max(others, 0), float64(b.Steal-a.Steal) / capacity
}
