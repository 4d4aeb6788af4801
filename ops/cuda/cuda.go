//go:build cuda

package cuda

import (
	_ "embed"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/qnext/qnext/ops"
)

//go:embed kernels.ptx
var ptx string

func init() {
	ops.RegisterBackend("cuda", func() (ops.Backend, error) { return New(0) })
}

// Backend runs ops.Linear on one GPU.
type Backend struct {
	mu      sync.Mutex
	dev     cu.Device
	ctx     cu.CUContext
	fns     map[ops.DType]cu.Function
	weights map[*ops.Mat]cu.DevicePtr
	x, y    buffer
	name    string
}

// buffer is a device allocation that grows on demand.
type buffer struct {
	ptr  cu.DevicePtr
	size int64
}

func (b *buffer) ensure(n int64) error {
	if n <= b.size {
		return nil
	}
	if b.size > 0 {
		if err := cu.MemFree(b.ptr); err != nil {
			return err
		}
		b.size = 0
	}
	p, err := cu.MemAlloc(n)
	if err != nil {
		return err
	}
	b.ptr, b.size = p, n
	return nil
}

// New creates a context on GPU ordinal and loads the kernels.
func New(ordinal int) (*Backend, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("device %d: %w", ordinal, err)
	}
	name, _ := dev.Name()
	ctx, err := dev.MakeContext(cu.SchedAuto)
	if err != nil {
		return nil, fmt.Errorf("context on %s: %w", name, err)
	}
	src := ptx
	if path := os.Getenv("QNEXT_CUDA_PTX"); path != "" { // a freshly compiled kernels.ptx (scripts/cuda-ptx)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		src = string(b)
	}
	mod, err := cu.LoadData(src)
	if err != nil {
		return nil, fmt.Errorf("loading the kernels' PTX on %s: %w", name, err)
	}
	b := &Backend{dev: dev, ctx: ctx, fns: map[ops.DType]cu.Function{}, weights: map[*ops.Mat]cu.DevicePtr{},
		name: fmt.Sprintf("cuda:%d (%s)", ordinal, name)}
	for dt, fn := range map[ops.DType]string{ops.F32: "linear_f32", ops.BF16: "linear_bf16", ops.F16: "linear_f16"} {
		if b.fns[dt], err = mod.Function(fn); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", fn, err)
		}
	}
	return b, nil
}

// Name implements ops.Backend.
func (b *Backend) Name() string { return b.name }

// upload returns the device copy of w, uploading it on first use.
func (b *Backend) upload(w *ops.Mat) (cu.DevicePtr, error) {
	if p, ok := b.weights[w]; ok {
		return p, nil
	}
	var src unsafe.Pointer
	var n int64
	if w.DType == ops.F32 {
		src, n = unsafe.Pointer(&w.F32[0]), int64(4*len(w.F32))
	} else {
		u := w.RowMajorU16() // the device kernels read row-major matrices (a Rows4 one is reordered)
		src, n = unsafe.Pointer(&u[0]), int64(2*len(u))
	}
	p, err := cu.MemAlloc(n)
	if err != nil {
		return 0, fmt.Errorf("allocating %d bytes for a [%d, %d] %v weight: %w", n, w.Rows, w.Cols, w.DType, err)
	}
	if err := cu.MemcpyHtoD(p, src, n); err != nil {
		return 0, err
	}
	b.weights[w] = p
	return p, nil
}

// Linear implements ops.Backend: y [T, Rows] = x [T, Cols] · Wᵀ on the GPU.
func (b *Backend) Linear(y, x []float32, w *ops.Mat, T int) {
	if err := b.linear(y, x, w, T); err != nil {
		panic(fmt.Sprintf("ops/cuda: Linear [%d, %d] %v, T=%d: %v", w.Rows, w.Cols, w.DType, T, err))
	}
}

func (b *Backend) linear(y, x []float32, w *ops.Mat, T int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(b.ctx); err != nil {
		return err
	}
	wp, err := b.upload(w)
	if err != nil {
		return err
	}
	if err := b.x.ensure(int64(4 * len(x))); err != nil {
		return err
	}
	if err := b.y.ensure(int64(4 * len(y))); err != nil {
		return err
	}
	if err := cu.MemcpyHtoD(b.x.ptr, unsafe.Pointer(&x[0]), int64(4*len(x))); err != nil {
		return err
	}
	// Kernel arguments are read as 8-byte slots: ints travel as int64.
	yp, xp := b.y.ptr, b.x.ptr
	t, rows, cols := int64(T), int64(w.Rows), int64(w.Cols)
	args := []unsafe.Pointer{unsafe.Pointer(&yp), unsafe.Pointer(&xp), unsafe.Pointer(&wp),
		unsafe.Pointer(&t), unsafe.Pointer(&rows), unsafe.Pointer(&cols)}
	const warps = 8 // rows per block
	grid := (w.Rows + warps - 1) / warps
	if err := b.fns[w.DType].LaunchAndSync(grid, 1, 1, 32*warps, 1, 1, 0, cu.NoStream, args); err != nil {
		return err
	}
	return cu.MemcpyDtoH(unsafe.Pointer(&y[0]), b.y.ptr, int64(4*len(y)))
}

// Close frees the device memory and the context.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(b.ctx); err != nil {
		return err
	}
	for _, p := range b.weights {
		_ = cu.MemFree(p)
	}
	b.weights = map[*ops.Mat]cu.DevicePtr{}
	for _, buf := range []*buffer{&b.x, &b.y} {
		if buf.size > 0 {
			_ = cu.MemFree(buf.ptr)
			buf.size = 0
		}
	}
	return b.ctx.Destroy()
}
