//go:build ignore

// rows4_asmgen writes rows4_amd64.s, the kernels for Rows4 matrices (ops/rows4.go) of bf16 and f16 weights:
//
//	go run rows4_asmgen.go
//
// The two dtypes differ only in how a row's block of 16 columns (32 bytes) becomes two registers of
// float32, columns 0–7 and 8–15: bf16 blocks hold them in the even and odd words (a left shift and a
// mask), f16 blocks in order (two VCVTPH2PS).
package main

import (
	"bytes"
	"fmt"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }

func label(l string) { fmt.Fprintf(&out, "%s:\n", l) }

// begin starts the kernel name: a blank line, "// func name(args)", the doc lines, the TEXT line.
func begin(name, args, frame string, doc ...string) {
	out.WriteString("\n")
	comment(append([]string{fmt.Sprintf("func %s(%s)", name, args)}, doc...)...)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, %s\n", name, frame)
}

func comment(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(&out, "// %s\n", l)
	}
}

// dtype describes how one row's block at addr (an offset from a register) is widened into lo (columns
// 0–7) and hi (8–15); a bf16 block uses tmp and the mask in Y15.
type dtype struct {
	name     string
	mask     bool // needs the 0xffff0000 mask in Y15
	widen    func(off int, base, lo, hi, tmp string)
	blockDoc string
}

var dtypes = []dtype{
	{"BF16", true, func(off int, base, lo, hi, tmp string) {
		p("VMOVDQU %d(%s), %s", off, base, tmp)
		p("VPSLLD $16, %s, %s", tmp, lo)
		p("VPAND Y15, %s, %s", tmp, hi)
	}, "columns 0–7 in the even words (widened by VPSLLD $16), 8–15 in the odd ones (VPAND 0xffff0000)"},
	{"F16", false, func(off int, base, lo, hi, tmp string) {
		p("VCVTPH2PS %d(%s), %s", off, base, lo)
		p("VCVTPH2PS %d(%s), %s", off+16, base, hi)
	}, "columns 0–15 in order (two VCVTPH2PS)"},
}

func loadMask(dt dtype) {
	if dt.mask {
		p("VPBROADCASTD rows4mask<>(SB), Y15")
	}
}

// gemv writes gemv<D>R4: T = 1, the groups one after the other, two accumulators per row.
func gemv(dt dtype) {
	name := "gemv" + dt.name + "R4"
	begin(name, "x *float32, w unsafe.Pointer, k int, y *float32, groups int", "$0-40",
		"y[4g+i] += Σ_{c<k} x[c]·W[4g+i, c] for g < groups (≥ 1), i < 4, over groups of a Rows4 matrix with k",
		"columns (a positive multiple of 16) starting at w, one after the other. Per row, the products of",
		"columns 16b+m (m < 8) accumulate lane by lane in one register and those of 16b+8+m in another, over",
		"the blocks b in order; the two are added, then the lanes pairwise. x is loaded once per block for the",
		"four rows. The lines 1024 bytes ahead are prefetched (into L2).",
		"A block: "+dt.blockDoc+".")
	p("MOVQ x+0(FP), SI")
	p("MOVQ w+8(FP), BX")
	p("MOVQ k+16(FP), CX")
	p("MOVQ y+24(FP), DI")
	p("MOVQ groups+32(FP), R11")
	p("SHRQ $4, CX")
	loadMask(dt)
	label(name + "_group")
	p("MOVQ SI, AX")
	p("MOVQ CX, R9")
	for i := 0; i < 8; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	label(name + "_block")
	p("PREFETCHT1 1024(BX)")
	p("PREFETCHT1 1088(BX)")
	p("VMOVUPS 0(AX), Y10")
	p("VMOVUPS 32(AX), Y11")
	for r := 0; r < 4; r++ {
		lo, hi := []string{"Y9", "Y13"}[r%2], []string{"Y8", "Y12"}[r%2]
		dt.widen(32*r, "BX", lo, hi, hi)
		p("VFMADD231PS Y10, %s, Y%d", lo, 2*r)
		p("VFMADD231PS Y11, %s, Y%d", hi, 2*r+1)
	}
	p("ADDQ $64, AX")
	p("ADDQ $128, BX")
	p("DECQ R9")
	p("JNZ %s_block", name)
	p("// rows 0..3: (lo + hi) per row, then the lanes of each 128-bit half pairwise, then the halves")
	for r := 0; r < 4; r++ {
		p("VADDPS Y%d, Y%d, Y%d", 2*r+1, 2*r, 2*r)
	}
	p("VHADDPS Y2, Y0, Y0")
	p("VHADDPS Y6, Y4, Y4")
	p("VHADDPS Y4, Y0, Y0")
	p("VEXTRACTF128 $1, Y0, X1")
	p("VADDPS X1, X0, X0")
	p("VMOVUPS (DI), X2")
	p("VADDPS X2, X0, X0")
	p("VMOVUPS X0, (DI)")
	p("ADDQ $16, DI")
	p("DECQ R11")
	p("JNZ %s_group", name)
	p("VZEROUPPER")
	p("RET")
}

// lin4 writes lin4R4<D>: ≤ 3 tokens × one group, one accumulator per token and row.
func lin4(dt dtype) {
	name := "lin4R4" + dt.name
	begin(name, "nt int, x *float32, ldx int, w unsafe.Pointer, k int, y *float32, ldy int", "$0-56",
		"For t < nt (1–3) and the four rows i of the Rows4 group at w (k columns, a positive multiple of 16):",
		"y[t·ldy + i] += Σ_{c<k} x[t·ldx + c]·W[i, c]. Each (t, i) has one accumulator: per block of 16 columns",
		"the products of columns 0–7, then of 8–15, lane by lane; the lanes are then added pairwise. The group is",
		"read once, its lines 1024 bytes ahead prefetched (into L2). Tokens past nt read x row 0 and are not stored.")
	p("MOVQ nt+0(FP), DX")
	p("MOVQ x+8(FP), SI")
	p("MOVQ ldx+16(FP), R8")
	p("MOVQ w+24(FP), BX")
	p("MOVQ k+32(FP), CX")
	p("MOVQ y+40(FP), DI")
	p("MOVQ ldy+48(FP), R9")
	p("SHLQ $2, R8")
	p("SHLQ $2, R9")
	p("SHRQ $4, CX")
	p("MOVQ SI, R12")
	p("MOVQ SI, R13")
	p("CMPQ DX, $2")
	p("JLT %s_x", name)
	p("LEAQ (SI)(R8*1), R12")
	p("CMPQ DX, $3")
	p("JLT %s_x", name)
	p("LEAQ (R12)(R8*1), R13")
	label(name + "_x")
	loadMask(dt)
	for i := 0; i < 12; i++ {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	label(name + "_block")
	p("PREFETCHT1 1024(BX)")
	p("PREFETCHT1 1088(BX)")
	for r := 0; r < 4; r++ {
		dt.widen(32*r, "BX", "Y13", "Y12", "Y12")
		for t, reg := range []string{"SI", "R12", "R13"} {
			p("VFMADD231PS 0(%s), Y13, Y%d", reg, 4*t+r)
			p("VFMADD231PS 32(%s), Y12, Y%d", reg, 4*t+r)
		}
	}
	p("ADDQ $64, SI")
	p("ADDQ $64, R12")
	p("ADDQ $64, R13")
	p("ADDQ $128, BX")
	p("DECQ CX")
	p("JNZ %s_block", name)
	for t := 0; t < 3; t++ {
		a := 4 * t
		if t > 0 {
			p("CMPQ DX, $%d", t+1)
			p("JLT %s_done", name)
			p("ADDQ R9, DI")
		}
		p("VHADDPS Y%d, Y%d, Y%d", a+1, a, a)
		p("VHADDPS Y%d, Y%d, Y%d", a+3, a+2, a+2)
		p("VHADDPS Y%d, Y%d, Y%d", a+2, a, a)
		p("VEXTRACTF128 $1, Y%d, X12", a)
		p("VADDPS X12, X%d, X%d", a, a)
		p("VMOVUPS (DI), X13")
		p("VADDPS X13, X%d, X%d", a, a)
		p("VMOVUPS X%d, (DI)", a)
	}
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
}

// pack writes packR4<D>: one group's blocks widened into a gemm panel.
func pack(dt dtype) {
	name := "packR4" + dt.name
	begin(name, "dst *float32, w unsafe.Pointer, nb, sa, so, pf int", "$0-48",
		"Widens nb (≥ 1) blocks of one Rows4 group at w (16 columns × 4 rows each) into the gemm panel at dst:",
		"row r of block b goes to dst + 256·b + r·sa bytes (columns 0–7) and 8 floats further by so bytes",
		"(columns 8–15). With lanes L = 8: sa = 32, so = 128 (blocks of 8 columns, [2b+h][4][8]); with L = 16:",
		"sa = 64, so = 32 ([b][4][16]). The same span pf bytes past w (the next group) is prefetched.")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ w+8(FP), BX")
	p("MOVQ nb+16(FP), CX")
	p("MOVQ sa+24(FP), R12")
	p("MOVQ so+32(FP), R10")
	p("MOVQ pf+40(FP), DX")
	p("LEAQ (R12)(R12*1), R13")
	p("LEAQ (R13)(R12*1), R14")
	loadMask(dt)
	label(name + "_block")
	p("PREFETCHT0 (BX)(DX*1)")
	p("PREFETCHT0 64(BX)(DX*1)")
	p("LEAQ (DI)(R10*1), R8")
	for r := 0; r < 4; r++ {
		dt.widen(32*r, "BX", fmt.Sprintf("Y%d", 2*r+1), fmt.Sprintf("Y%d", 2*r), fmt.Sprintf("Y%d", 2*r))
	}
	for r, idx := range []string{"", "(R12*1)", "(R13*1)", "(R14*1)"} {
		p("VMOVUPS Y%d, (DI)%s", 2*r+1, idx)
		p("VMOVUPS Y%d, (R8)%s", 2*r, idx)
	}
	p("ADDQ $128, BX")
	p("ADDQ $256, DI")
	p("DECQ CX")
	p("JNZ %s_block", name)
	p("VZEROUPPER")
	p("RET")
}

// toRows4 writes toRows4<D>: row-major groups rewritten into Rows4 (bf16: words interleaved).
func toRows4(dt dtype) {
	name := "toRows4" + dt.name
	order := "per block of 16 columns and row, words 0–7 and 8–15 interleaved"
	if !dt.mask {
		order = "per block of 16 columns and row, the 32 bytes as they are"
	}
	begin(name, "dst, src unsafe.Pointer, k, groups int", "$0-32",
		"Writes groups (≥ 1) groups of 4 row-major rows of k columns (a positive multiple of 16) at src",
		"into the Rows4 layout at dst: "+order+".")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ k+16(FP), CX")
	p("MOVQ groups+24(FP), R11")
	p("LEAQ (CX)(CX*1), R8")
	p("SHRQ $4, CX")
	label(name + "_group")
	p("MOVQ SI, R12")
	p("LEAQ (SI)(R8*1), R13")
	p("LEAQ (R13)(R8*1), R14")
	p("LEAQ (R14)(R8*1), DX")
	p("MOVQ CX, R9")
	label(name + "_block")
	for r, reg := range []string{"R12", "R13", "R14", "DX"} {
		if dt.mask {
			a, b := 4*(r%2), 4*(r%2)+1
			p("VMOVDQU (%s), X%d", reg, a)
			p("VMOVDQU 16(%s), X%d", reg, b)
			p("VPUNPCKLWD X%d, X%d, X%d", b, a, a+2)
			p("VPUNPCKHWD X%d, X%d, X%d", b, a, a+3)
			p("VMOVDQU X%d, %d(DI)", a+2, 32*r)
			p("VMOVDQU X%d, %d(DI)", a+3, 32*r+16)
		} else {
			p("VMOVDQU (%s), Y%d", reg, r)
			p("VMOVDQU Y%d, %d(DI)", r, 32*r)
		}
	}
	for _, reg := range []string{"R12", "R13", "R14", "DX"} {
		p("ADDQ $32, %s", reg)
	}
	p("ADDQ $128, DI")
	p("DECQ R9")
	p("JNZ %s_block", name)
	p("LEAQ (SI)(R8*4), SI")
	p("DECQ R11")
	p("JNZ %s_group", name)
	if !dt.mask {
		p("VZEROUPPER")
	}
	p("RET")
}

func main() {
	out.WriteString("// Code generated by rows4_asmgen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	comment("The Rows4 kernels (ops/rows4.go): a row's block of 16 columns is 32 bytes, widened to two registers",
		"of float32 (columns 0–7 and 8–15).")
	out.WriteString("\nDATA rows4mask<>+0(SB)/4, $0xffff0000\nGLOBL rows4mask<>(SB), RODATA, $4\n")
	for _, dt := range dtypes {
		gemv(dt)
		lin4(dt)
		pack(dt)
		toRows4(dt)
	}
	if err := os.WriteFile("rows4_amd64.s", out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
