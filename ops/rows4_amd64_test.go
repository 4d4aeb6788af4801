//go:build amd64 && !purego

package ops

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestPackR4Panels: packR4BF16 and packR4F16 write the panel the gemm kernels read, [Cols/L][4][L] widened, for 8
// and 16 lanes (the AVX-512 panel is checked here even where gemm3x4AVX512 cannot run).
func TestPackR4Panels(t *testing.T) {
	if !rows4Kernels {
		t.Skip("no Rows4 kernels on this build")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, dt := range []DType{BF16, F16} {
		testPackR4Panels(t, randMatDT(r, 12, 96, dt))
	}
}

func testPackR4Panels(t *testing.T, m *Mat) {
	q := rows4Of(m)
	wide := m.Float32s()
	for _, ks := range []*kernelSet{&avx2Kernels, &avx512Kernels} {
		w := weights{m: q, base: unsafe.Pointer(&q.U16[0]), esz: 2, k: ks}
		L := ks.lanes
		for _, c := range []struct{ r, k0, kn int }{{0, 0, 96}, {4, 16, 32}, {8, 32, 64}, {8, 80, 16}} {
			wp := make([]float32, 4*c.kn+8)
			w.packR4(wp, c.r, c.k0, c.kn, 0)
			for j := 0; j < c.kn/L; j++ {
				for i := 0; i < 4; i++ {
					for l := 0; l < L; l++ {
						want := wide[(c.r+i)*m.Cols+c.k0+j*L+l]
						if got := wp[(j*4+i)*L+l]; got != want {
							t.Fatalf("%v %s %+v: panel[%d][%d][%d] = %v, want %v", m.DType, ks.name, c, j, i, l, got, want)
						}
					}
				}
			}
			if wp[4*c.kn] != 0 {
				t.Fatalf("%s %+v: wrote past the panel", ks.name, c)
			}
		}
	}
}
