// Kernels of the qnext CUDA backend (package ops/cuda). Compiled to PTX with
//
//	nvcc -ptx -arch=compute_80 -o kernels.ptx kernels.cu
//
// (scripts/cuda-ptx); the PTX is committed and embedded, and the driver JIT-compiles it for the GPU at
// load time, so building the Go package needs only cuda.h and libcuda.
//
// linear_<dtype>: y[t, o] = sum_i x[t, i] * W[o, i] for x [T, cols], W [rows, cols] (nn.Linear layout),
// y [T, rows]. One warp per output row: the lanes stride over the row (coalesced loads of W, widened from
// bf16/f16 in registers), eight tokens at a time, then a shuffle reduction.

#define TOKENS 8

__device__ __forceinline__ float load_f32(const void* w, size_t i) { return ((const float*)w)[i]; }
__device__ __forceinline__ float load_bf16(const void* w, size_t i) {
    return __uint_as_float(((unsigned)((const unsigned short*)w)[i]) << 16);
}
__device__ __forceinline__ float load_f16(const void* w, size_t i) {
    unsigned short h = ((const unsigned short*)w)[i];
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

#define LINEAR_KERNEL(NAME, LOAD)                                                              \
extern "C" __global__ void NAME(float* y, const float* x, const void* w, int T, int rows,     \
                                int cols) {                                                  \
    int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;                                  \
    int lane = threadIdx.x & 31;                                                             \
    if (row >= rows) return;                                                                 \
    size_t base = (size_t)row * cols;                                                        \
    for (int t0 = 0; t0 < T; t0 += TOKENS) {                                                 \
        int nt = min(TOKENS, T - t0);                                                        \
        float acc[TOKENS];                                                                   \
        _Pragma("unroll") for (int j = 0; j < TOKENS; j++) acc[j] = 0.f;                    \
        for (int i = lane; i < cols; i += 32) {                                              \
            float wv = LOAD(w, base + i);                                                    \
            _Pragma("unroll") for (int j = 0; j < TOKENS; j++)                               \
                if (j < nt) acc[j] = fmaf(wv, x[(size_t)(t0 + j) * cols + i], acc[j]);       \
        }                                                                                    \
        _Pragma("unroll") for (int j = 0; j < TOKENS; j++) {                                 \
            float v = acc[j];                                                                \
            for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off); \
            if (lane == 0 && j < nt) y[(size_t)(t0 + j) * rows + row] = v;                   \
        }                                                                                    \
    }                                                                                        \
}

LINEAR_KERNEL(linear_f32, load_f32)
LINEAR_KERNEL(linear_bf16, load_bf16)
LINEAR_KERNEL(linear_f16, load_f16)
