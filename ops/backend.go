package ops

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Backend is the seam for accelerators: a backend takes over the matrix products (Linear), which hold
// nearly all of the arithmetic; every other kernel stays on the CPU, so every node keeps its meaning and
// its name. A backend must compute the same y = x·Wᵀ (within float32 rounding) and panic with a message
// starting "ops/<backend>: " on failure, like the CPU kernels.
//
// The CUDA backend (package ops/cuda, built with -tags cuda) registers itself as "cuda".
type Backend interface {
	Name() string
	Linear(y, x []float32, w *Mat, T int)
	Close() error
}

// backend is the active backend; nil means the CPU kernels of this package.
var backend Backend

var (
	registryMu sync.Mutex
	registry   = map[string]func() (Backend, error){}
)

// RegisterBackend makes a backend available to UseBackend under name.
func RegisterBackend(name string, open func() (Backend, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[name] = open
}

// Backends lists the available backend names, "cpu" first.
func Backends() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := []string{"cpu"}
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	return names
}

// UseBackend switches Linear to the named backend ("cpu" for this package's kernels). Not safe to call
// while a forward pass runs.
func UseBackend(name string) error {
	if name == "" || name == "cpu" {
		if backend != nil {
			err := backend.Close()
			backend = nil
			return err
		}
		return nil
	}
	registryMu.Lock()
	open, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return fmt.Errorf("ops: backend %q is not available in this build (available: %s; CUDA needs -tags cuda)",
			name, strings.Join(Backends(), ", "))
	}
	b, err := open()
	if err != nil {
		return fmt.Errorf("ops: backend %s: %w", name, err)
	}
	if backend != nil {
		_ = backend.Close()
	}
	backend = b
	return nil
}

// ActiveBackend returns the name of the backend Linear uses.
func ActiveBackend() string {
	if backend == nil {
		return "cpu"
	}
	return backend.Name()
}
