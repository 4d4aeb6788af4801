// Package cuda is the CUDA backend of package ops, built only with -tags cuda (gorgonia.org/cu's init
// exits the process on a machine without a GPU, so the default build never imports it).
//
// Importing it registers the backend "cuda" (ops.UseBackend("cuda"), or `qnext --backend cuda …` in a
// cuda build). It runs ops.Linear on the GPU: each weight matrix is uploaded once, as stored (F32, BF16 or
// F16 bits; widened inside the kernel), and kept on the device for the life of the backend; activations
// are copied in and out per call, so every node the runtime reports is still a host float32 buffer.
// The kernels are in kernels.cu; their PTX (kernels.ptx, made by scripts/cuda-ptx on a machine with nvcc)
// is embedded and JIT-compiled by the driver.
//
// Build (headers and the libcuda link stub only; scripts/cuda-build fetches them from Debian non-free):
//
//	CGO_CFLAGS=-I$CUDA/usr/include CGO_LDFLAGS=-L$CUDA/usr/lib/x86_64-linux-gnu/stubs go test -tags cuda -c ./ops/cuda
package cuda
