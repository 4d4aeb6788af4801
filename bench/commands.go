package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Commands compares `qnext run` with `qnext dump` of every node as whole processes, the way the issue's
// instrumentation target is stated ("qnext dump of every node costs at most 1.5× a plain run"): start-up,
// model load and, for the dump, the weight hash, the files and their fsync all count.
type Commands struct {
	Run     []string `json:"run"`  // argv of the plain run
	Dump    []string `json:"dump"` // argv of the dump, without its --out DIR
	Dir     string   `json:"dir"`  // parent of the dump directories
	FS      string   `json:"fs"`   // its filesystem type
	RunP    Phase    `json:"run_phase"`
	DumpP   Phase    `json:"dump_phase"`
	Ratio   float64  `json:"ratio"` // DumpP.Median / RunP.Median
	RunCPU  float64  `json:"run_cpu_s"`
	DumpCPU float64  `json:"dump_cpu_s"` // median child CPU (user + system) of each
}

// MeasureCommands runs run and dump (dump gets "--out" and a fresh directory under dir, removed after
// each run) alternately, r's warm-ups and rounds, and times each process from start to exit. (The phases'
// OtherCPU counts the children themselves, so it says nothing of contention here.)
func MeasureCommands(r Reps, run, dump []string, dir string) (Commands, error) {
	c := Commands{Run: run, Dump: dump, Dir: dir, FS: FSType(dir)}
	var runCPU, dumpCPU []float64
	one := func(argv []string, isDump bool, cpu *[]float64) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			args := argv
			if isDump {
				out, err := os.MkdirTemp(dir, "qnext-bench-cmd-")
				if err != nil {
					return 0, err
				}
				defer os.RemoveAll(out)
				args = append(append([]string{}, argv...), "--out", filepath.Join(out, "d"))
			}
			cmd := exec.Command(args[0], args[1:]...)
			start := time.Now()
			outb, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("bench: %v: %w\n%s", args, err, outb)
			}
			st := cmd.ProcessState
			*cpu = append(*cpu, (st.UserTime() + st.SystemTime()).Seconds())
			return d, nil
		}
	}
	ps, err := interleave(r, 1, one(run, false, &runCPU), one(dump, true, &dumpCPU))
	if err != nil {
		return c, err
	}
	c.RunP, c.DumpP = ps[0], ps[1]
	c.Ratio = c.DumpP.Median / c.RunP.Median
	// the children's CPU of the timed runs (the warm-ups ran first)
	c.RunCPU = Median(runCPU[len(runCPU)-len(c.RunP.Seconds):])
	c.DumpCPU = Median(dumpCPU[len(dumpCPU)-len(c.DumpP.Seconds):])
	return c, nil
}
