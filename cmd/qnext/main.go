// Command qnext runs, dumps and compares Qwen3-Next forward passes node by node.
//
// Each verb lives in its own file and registers itself in init() through addCommand; this file only
// builds the root command and maps errors to exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// commands holds the constructors of the top-level verbs, registered by each verb's file.
var commands []func() *cobra.Command

func addCommand(f func() *cobra.Command) { commands = append(commands, f) }

// exitError carries a specific exit code out of a command (see docs/exit-codes in README).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that main exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "qnext",
		Short:         "Qwen3-Next runtime and node-by-node numerical comparison toolkit",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var backend string
	var noMmap bool
	root.PersistentFlags().StringVar(&backend, "backend", "cpu",
		"where matrix products run: "+strings.Join(ops.Backends(), ", ")+" (cuda needs a -tags cuda build)")
	root.PersistentFlags().BoolVar(&noMmap, "no-mmap", false,
		"read the checkpoint's files into memory (huge pages where the kernel allows) instead of mapping them: slower to load, faster decode")
	var rows4 bool
	root.PersistentFlags().BoolVar(&rows4, "rows4", false,
		"copy bf16/f16 matrices at load into the layout decode reads fastest (huge pages): slower to load, ~1.1–1.2× faster decode (docs/run.md)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		residentWeights, rows4Weights = noMmap, rows4
		return ops.UseBackend(backend)
	}
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// residentWeights and rows4Weights are --no-mmap and --rows4 of the running command (set before it
// runs).
var residentWeights, rows4Weights bool

// loadModel loads a checkpoint as the global flags say (--no-mmap, --rows4).
func loadModel(dir string, o runtime.LoadOptions) (*runtime.Model, error) {
	o.Resident, o.Rows4 = residentWeights, rows4Weights
	return runtime.Load(dir, o)
}

func main() {
	floor := gcFloor()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	goruntime.KeepAlive(floor)
	os.Exit(code)
}

// gcFloorBytes is the heap the garbage collector may reach before its first cycle.
const gcFloorBytes = 64 << 20

// gcFloor returns an allocation of gcFloorBytes that is never written, so never faulted in (no memory is
// used), but that counts as live heap: the collector's goal starts at ~128 MiB instead of 4 MiB. A
// command on a small model then runs without further collections (GODEBUG=gctrace=1 on the tiny fixture:
// `qnext dump` 4 → 1, `qnext run` 3 → 1, the one left being started by this allocation itself), and on a
// large one the floor is lost in the live heap. Nothing when the user set GOGC or GOMEMLIMIT.
func gcFloor() []byte {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return make([]byte, gcFloorBytes)
}

// run executes the CLI and returns the process exit code: 0 success, 2 usage or input error unless a
// command chose another code with withCode.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "qnext: "+err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
