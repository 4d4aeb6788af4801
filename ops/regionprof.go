//go:build regionprof

package ops

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// The region profile (build tag regionprof; regionprof_test.go runs it on a model): every parallel
// region the worker pool runs is charged to the runtime function that opened it, with its own time and
// the serial time before it (from the previous region's end, or from StartRegionProfile), so that the
// time a decode step spends outside the weight streams can be read per call site. Without the tag the
// hooks compile to nothing.

// RegionStat is one call site's share of a profile.
type RegionStat struct {
	Site   string        // "<runtime function> <ops entry point>"
	Count  int           // regions opened
	Region time.Duration // time inside them
	Before time.Duration // serial time before them
}

var prof struct {
	sync.Mutex
	on    bool
	last  time.Time
	sites map[string]*RegionStat
}

// StartRegionProfile starts (or restarts) the profile; the serial time before the first region counts
// from now.
func StartRegionProfile() {
	prof.Lock()
	defer prof.Unlock()
	prof.on, prof.last, prof.sites = true, time.Now(), map[string]*RegionStat{}
}

// MarkRegionProfile restarts the serial time from now (call it between timed calls, so that the time
// outside them is not charged to the first region of the next one).
func MarkRegionProfile() {
	prof.Lock()
	defer prof.Unlock()
	prof.last = time.Now()
}

// StopRegionProfile stops the profile and returns its call sites, the largest serial time first.
func StopRegionProfile() []RegionStat {
	prof.Lock()
	defer prof.Unlock()
	prof.on = false
	var out []RegionStat
	for _, st := range prof.sites {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before > out[j].Before })
	return out
}

type regionStart struct {
	site string
	t0   time.Time
}

func regionBegin() regionStart {
	prof.Lock()
	defer prof.Unlock()
	if !prof.on {
		return regionStart{}
	}
	now := time.Now()
	site := regionSite()
	st := prof.sites[site]
	if st == nil {
		st = &RegionStat{Site: site}
		prof.sites[site] = st
	}
	st.Count++
	st.Before += now.Sub(prof.last)
	return regionStart{site, time.Now()} // read again: the stack walk of regionSite is neither serial nor region time
}

func regionEnd(r regionStart) {
	if r.site == "" {
		return
	}
	prof.Lock()
	defer prof.Unlock()
	now := time.Now()
	if st := prof.sites[r.site]; st != nil {
		st.Region += now.Sub(r.t0)
	}
	prof.last = now
}

// regionSite names the caller of fork: the first function of package runtime on the stack and the ops
// function it called.
func regionSite() string {
	var pcs [16]uintptr
	n := runtime.Callers(4, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	entry := ""
	for {
		f, more := frames.Next()
		name := f.Function
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		if strings.HasPrefix(name, "runtime.") && strings.Contains(f.Function, "qnext/runtime") {
			return strings.TrimPrefix(name, "runtime.") + " " + entry
		}
		if strings.HasPrefix(name, "ops.") && !strings.Contains(name, ".func") {
			entry = strings.TrimPrefix(name, "ops.")
		}
		if !more {
			return entry
		}
	}
}
