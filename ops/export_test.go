package ops

// SetDecodeChoices sets the kernel choices that the A/B benchmarks of package ops_test compare: the
// worker pool (else fresh goroutines per region), the T = 1 gemv kernels (else the lin4 tiles) and the
// eight-row f32 kernel (else gemvF32). It returns a function that restores the previous choices.
func SetDecodeChoices(pool, gemv, lin8 bool) (restore func()) {
	old := [3]bool{usePool, useGemv, useLin8F32}
	usePool, useGemv, useLin8F32 = pool, gemv, lin8
	return func() { usePool, useGemv, useLin8F32 = old[0], old[1], old[2] }
}
