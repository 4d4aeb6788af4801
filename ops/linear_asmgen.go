//go:build ignore

// linear_asmgen writes linear_amd64.s, the AVX2/FMA and AVX-512 kernels of Linear.
//
//	go run linear_asmgen.go
//
// The kernels are generated rather than written by hand because the three weight types (F32, BF16, F16)
// only differ in how a register of weights is loaded and widened to float32, and the AVX-512 kernels only
// in the register width (16 float32 lanes instead of 8).
package main

import (
	"bytes"
	"fmt"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }

// dtype describes how a vector of weights is loaded and widened to float32.
type dtype struct {
	name  string
	esz   int // bytes per weight
	gtype string
}

var (
	f32  = dtype{"F32", 4, "float32"}
	bf16 = dtype{"BF16", 2, "uint16"}
	f16  = dtype{"F16", 2, "uint16"}
)

// vec is an instruction set: its register file prefix and lanes of float32 per register.
type vec struct {
	suffix string // appended to the kernel names
	r      string // "Y" or "Z"
	lanes  int
}

var (
	avx2   = vec{"", "Y", 8}
	avx512 = vec{"AVX512", "Z", 16}
)

func (v vec) reg(i int) string { return fmt.Sprintf("%s%d", v.r, i) }

// loadW emits the load of one register of weights at element index AX (+off elements) of row pointer ptr
// into reg, widened to float32: bf16 by zero-extension and a 16-bit shift (exact), f16 with VCVTPH2PS.
func loadW(d dtype, ptr string, off int, reg string) {
	addr := fmt.Sprintf("%d(%s)(AX*%d)", off*d.esz, ptr, d.esz)
	if off == 0 {
		addr = fmt.Sprintf("(%s)(AX*%d)", ptr, d.esz)
	}
	switch d.name {
	case "F32":
		p("VMOVUPS %s, %s", addr, reg)
	case "BF16":
		p("VPMOVZXWD %s, %s", addr, reg)
		p("VPSLLD $16, %s, %s", reg, reg)
	case "F16":
		p("VCVTPH2PS %s, %s", addr, reg)
	}
}

func xaddr(ptr string, off int) string {
	if off == 0 {
		return fmt.Sprintf("(%s)(AX*4)", ptr)
	}
	return fmt.Sprintf("%d(%s)(AX*4)", off*4, ptr)
}

var (
	xptr = []string{"SI", "R8", "R9"}
	wptr = []string{"DX", "CX", "R10", "R11"}
	// pfptr holds the rows the 4-row packs prefetch.
	pfptr = []string{"R8", "R9", "R12", "R13"}
)

// ---------------------------------------------------------------------------------------------------
// In-place tile of nt ≤ 3 tokens × 4 weight rows (L = 8 lanes for AVX2, 16 for AVX-512).
//
// func lin4<D>[AVX512](nt int, x *float32, ldx int, w0, w1, w2, w3 unsafe.Pointer, k int, y *float32, ldy int)
//
// y[t*ldy + r] += Σ_{i<k} x[t*ldx + i] · w_r[i]  for t < nt, r < 4.  k is a positive multiple of L.
// ---------------------------------------------------------------------------------------------------

func genLin4(d dtype, v vec) {
	L := v.lanes
	fn := "lin4" + d.name + v.suffix
	fmt.Fprintf(&out, "// func %s(nt int, x *float32, ldx int, w0, w1, w2, w3 unsafe.Pointer, k int, y *float32, ldy int)\n", fn)
	fmt.Fprintf(&out, "// w_r point at %s weights.\n", d.gtype)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-80\n", fn)
	p("MOVQ x+8(FP), SI")
	p("MOVQ ldx+16(FP), R13")
	p("SHLQ $2, R13")
	p("LEAQ (SI)(R13*1), R8")
	p("LEAQ (R8)(R13*1), R9")
	p("MOVQ w0+24(FP), DX")
	p("MOVQ w1+32(FP), CX")
	p("MOVQ w2+40(FP), R10")
	p("MOVQ w3+48(FP), R11")
	p("MOVQ k+56(FP), BX")
	p("MOVQ y+64(FP), DI")
	p("MOVQ ldy+72(FP), R12")
	p("SHLQ $2, R12")
	p("XORQ AX, AX")
	p("MOVQ nt+0(FP), R13")
	p("CMPQ R13, $2")
	p("JEQ %s_nt2", fn)
	p("JGT %s_nt3", fn)

	// nt = 1: two sets of 4 accumulators over 2L values per step.
	for i := 0; i < 8; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	p("MOVQ BX, R13")
	p("ANDQ $-%d, R13", 2*L)
	p("JZ %s_nt1_tail", fn)
	label(fn + "_nt1_loop")
	p("VMOVUPS %s, %s", xaddr("SI", 0), v.reg(12))
	p("VMOVUPS %s, %s", xaddr("SI", L), v.reg(13))
	for r := 0; r < 4; r++ {
		loadW(d, wptr[r], 0, v.reg(14))
		p("VFMADD231PS %s, %s, %s", v.reg(14), v.reg(12), v.reg(r))
		loadW(d, wptr[r], L, v.reg(15))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(13), v.reg(4+r))
	}
	p("ADDQ $%d, AX", 2*L)
	p("CMPQ AX, R13")
	p("JLT %s_nt1_loop", fn)
	label(fn + "_nt1_tail")
	p("CMPQ AX, BX")
	p("JGE %s_nt1_done", fn)
	p("VMOVUPS %s, %s", xaddr("SI", 0), v.reg(12))
	for r := 0; r < 4; r++ {
		loadW(d, wptr[r], 0, v.reg(14))
		p("VFMADD231PS %s, %s, %s", v.reg(14), v.reg(12), v.reg(r))
	}
	label(fn + "_nt1_done")
	for r := 0; r < 4; r++ {
		p("VADDPS %s, %s, %s", v.reg(4+r), v.reg(r), v.reg(r))
	}
	reduce4(v, 0, "DI")
	p("VZEROUPPER")
	p("RET")

	// nt = 2: 8 accumulators.
	label(fn + "_nt2")
	for i := 0; i < 8; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	label(fn + "_nt2_loop")
	p("VMOVUPS %s, %s", xaddr("SI", 0), v.reg(12))
	p("VMOVUPS %s, %s", xaddr("R8", 0), v.reg(13))
	for r := 0; r < 4; r++ {
		loadW(d, wptr[r], 0, v.reg(15))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(12), v.reg(r))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(13), v.reg(4+r))
	}
	p("ADDQ $%d, AX", L)
	p("CMPQ AX, BX")
	p("JLT %s_nt2_loop", fn)
	reduce4(v, 0, "DI")
	p("ADDQ R12, DI")
	reduce4(v, 4, "DI")
	p("VZEROUPPER")
	p("RET")

	// nt = 3: 12 accumulators.
	label(fn + "_nt3")
	for i := 0; i < 12; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	label(fn + "_nt3_loop")
	p("VMOVUPS %s, %s", xaddr("SI", 0), v.reg(12))
	p("VMOVUPS %s, %s", xaddr("R8", 0), v.reg(13))
	p("VMOVUPS %s, %s", xaddr("R9", 0), v.reg(14))
	for r := 0; r < 4; r++ {
		loadW(d, wptr[r], 0, v.reg(15))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(12), v.reg(r))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(13), v.reg(4+r))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(14), v.reg(8+r))
	}
	p("ADDQ $%d, AX", L)
	p("CMPQ AX, BX")
	p("JLT %s_nt3_loop", fn)
	reduce4(v, 0, "DI")
	p("ADDQ R12, DI")
	reduce4(v, 4, "DI")
	p("ADDQ R12, DI")
	reduce4(v, 8, "DI")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// reduce4 sums each of the accumulators a..a+3 across lanes and adds the four sums to the floats at
// (yptr). Clobbers registers a..a+3 and, for AVX-512 (folded to 8 lanes first), Y12..Y15.
func reduce4(v vec, a int, yptr string) {
	if v.r == "Z" {
		for i := 0; i < 4; i++ {
			p("VEXTRACTF64X4 $1, Z%d, Y%d", a+i, 12+i)
			p("VADDPS Y%d, Y%d, Y%d", 12+i, a+i, a+i)
		}
	}
	p("VHADDPS Y%d, Y%d, Y%d", a+1, a, a)
	p("VHADDPS Y%d, Y%d, Y%d", a+3, a+2, a+2)
	p("VHADDPS Y%d, Y%d, Y%d", a+2, a, a)
	p("VEXTRACTF128 $1, Y%d, X%d", a, a+1)
	p("VADDPS X%d, X%d, X%d", a+1, a, a)
	p("VADDPS (%s), X%d, X%d", yptr, a, a)
	p("VMOVUPS X%d, (%s)", a, yptr)
}

// ---------------------------------------------------------------------------------------------------
// Packed GEMM: x and W blocks are first packed so that the micro-kernel reads two sequential streams:
// xp = [kb][3 tokens][L] and wp = [kb][4 rows][L], float32.
//
// func gemm3x4[AVX512](xp, wp *float32, kb, ntr int, y *float32, ldy int)
//
// For ntr > 0 consecutive token triples i (xp advancing by 3·L·kb floats, y by 3·ldy), t < 3, r < 4:
// y[(3i+t)*ldy + r] += Σ_{j<kb, l<L} xp[i*3*L*kb + (j*3+t)*L+l] · wp[(j*4+r)*L+l].  kb > 0.
// ---------------------------------------------------------------------------------------------------

func genGemm3x4(v vec) {
	vb := 4 * v.lanes // bytes per register
	fn := "gemm3x4" + v.suffix
	fmt.Fprintf(&out, "// func %s(xp, wp *float32, kb, ntr int, y *float32, ldy int)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-48\n", fn)
	p("MOVQ xp+0(FP), SI")
	p("MOVQ wp+8(FP), R8")
	p("MOVQ kb+16(FP), R9")
	p("MOVQ ntr+24(FP), R10")
	p("MOVQ y+32(FP), DI")
	p("MOVQ ldy+40(FP), R12")
	p("SHLQ $2, R12")
	label(fn + "_tile")
	p("MOVQ R8, DX")
	p("MOVQ R9, BX")
	for i := 0; i < 12; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	label(fn + "_loop")
	p("VMOVUPS (SI), %s", v.reg(12))
	p("VMOVUPS %d(SI), %s", vb, v.reg(13))
	p("VMOVUPS %d(SI), %s", 2*vb, v.reg(14))
	for r := 0; r < 4; r++ {
		p("VMOVUPS %d(DX), %s", vb*r, v.reg(15))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(12), v.reg(r))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(13), v.reg(4+r))
		p("VFMADD231PS %s, %s, %s", v.reg(15), v.reg(14), v.reg(8+r))
	}
	p("ADDQ $%d, SI", 3*vb)
	p("ADDQ $%d, DX", 4*vb)
	p("DECQ BX")
	p("JNZ %s_loop", fn)
	reduce4(v, 0, "DI")
	p("ADDQ R12, DI")
	reduce4(v, 4, "DI")
	p("ADDQ R12, DI")
	reduce4(v, 8, "DI")
	p("ADDQ R12, DI")
	p("DECQ R10")
	p("JNZ %s_tile", fn)
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// genPack emits pack<n><D>[AVX512](dst *float32, w0, ..., w<n-1> unsafe.Pointer, kb int): interleaves kb
// blocks of L values of n rows, widened to float32: dst[(j*n+r)*L+l] = w_r[j*L+l].
// The 4-row packs (of weights) take a further argument pf and prefetch the same span pf bytes past each
// row: the next panel's rows, loaded from memory while the micro-kernel works on this one.
func genPack(d dtype, n int, v vec) {
	L := v.lanes
	fn := fmt.Sprintf("pack%d%s%s", n, d.name, v.suffix)
	args := ""
	for r := 0; r < n; r++ {
		args += fmt.Sprintf(", w%d", r)
	}
	pf := n == 4 // the 4-row packs prefetch the next panel's rows
	sig, frame := "", 8*(n+2)
	if pf {
		sig, frame = ", pf int", frame+8
	}
	fmt.Fprintf(&out, "// func %s(dst *float32%s unsafe.Pointer, kb int%s)\n", fn, args, sig)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", fn, frame)
	p("MOVQ dst+0(FP), DI")
	for r := 0; r < n; r++ {
		p("MOVQ w%d+%d(FP), %s", r, 8+8*r, wptr[r])
	}
	p("MOVQ kb+%d(FP), BX", 8+8*n)
	if pf {
		p("MOVQ pf+%d(FP), AX", 16+8*n)
		for r := 0; r < n; r++ {
			p("LEAQ (%s)(AX*1), %s", wptr[r], pfptr[r])
		}
	}
	p("XORQ AX, AX")
	label(fn + "_loop")
	for r := 0; r < n; r++ {
		loadW(d, wptr[r], 0, v.reg(r))
	}
	if pf {
		for r := 0; r < n; r++ {
			p("PREFETCHT0 (%s)(AX*%d)", pfptr[r], d.esz)
		}
	}
	for r := 0; r < n; r++ {
		p("VMOVUPS %s, %d(DI)", v.reg(r), 4*L*r)
	}
	p("ADDQ $%d, AX", L)
	p("ADDQ $%d, DI", 4*L*n)
	p("DECQ BX")
	p("JNZ %s_loop", fn)
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func main() {
	out.WriteString("// Code generated by linear_asmgen.go; DO NOT EDIT.\n\n")
	out.WriteString("//go:build amd64 && !purego\n\n")
	out.WriteString("#include \"textflag.h\"\n\n")
	for _, v := range []vec{avx2, avx512} {
		for _, d := range []dtype{f32, bf16, f16} {
			genLin4(d, v)
		}
		genGemm3x4(v)
		genPack(f32, 3, v)
		for _, d := range []dtype{f32, bf16, f16} {
			genPack(d, 4, v)
		}
	}
	if err := os.WriteFile("linear_amd64.s", out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
