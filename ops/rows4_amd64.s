//go:build amd64 && !purego

#include "textflag.h"

// The Rows4 kernels (ops/rows4.go). A 32-byte block of a row holds its columns 0–7 in the even words and
// 8–15 in the odd ones: VPSLLD $16 widens the first eight to float32, VPAND with 0xffff0000 the others.

DATA rows4mask<>+0(SB)/4, $0xffff0000
GLOBL rows4mask<>(SB), RODATA, $4

// func gemvBF16R4(x *float32, w unsafe.Pointer, k int, y *float32, groups int)
// y[4g+i] += Σ_{c<k} x[c]·W[4g+i, c] for g < groups (≥ 1), i < 4, over groups of a Rows4 matrix with k
// columns (a positive multiple of 16) starting at w, one after the other. Per row, the products of
// columns 16b+m (m < 8) accumulate lane by lane in one register and those of 16b+8+m in another, over
// the blocks b in order; the two are added, then the lanes pairwise. x is loaded once per block for the
// four rows. The lines 1024 bytes ahead are prefetched (into L2).
TEXT ·gemvBF16R4(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), BX
	MOVQ k+16(FP), CX
	MOVQ y+24(FP), DI
	MOVQ groups+32(FP), R11
	SHRQ $4, CX
	VPBROADCASTD rows4mask<>(SB), Y15
gemvR4_group:
	MOVQ SI, AX
	MOVQ CX, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
gemvR4_block:
	PREFETCHT1 1024(BX)
	PREFETCHT1 1088(BX)
	VMOVUPS 0(AX), Y10
	VMOVUPS 32(AX), Y11
	VMOVDQU 0(BX), Y8
	VPSLLD $16, Y8, Y9
	VPAND Y15, Y8, Y8
	VFMADD231PS Y10, Y9, Y0
	VFMADD231PS Y11, Y8, Y1
	VMOVDQU 32(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS Y10, Y13, Y2
	VFMADD231PS Y11, Y12, Y3
	VMOVDQU 64(BX), Y8
	VPSLLD $16, Y8, Y9
	VPAND Y15, Y8, Y8
	VFMADD231PS Y10, Y9, Y4
	VFMADD231PS Y11, Y8, Y5
	VMOVDQU 96(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS Y10, Y13, Y6
	VFMADD231PS Y11, Y12, Y7
	ADDQ $64, AX
	ADDQ $128, BX
	DECQ R9
	JNZ gemvR4_block
	// rows 0..3: (lo + hi) per row, then the lanes of each 128-bit half pairwise, then the halves
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	VHADDPS Y2, Y0, Y0
	VHADDPS Y6, Y4, Y4
	VHADDPS Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS (DI), X2
	VADDPS X2, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, DI
	DECQ R11
	JNZ gemvR4_group
	VZEROUPPER
	RET

// func packR4BF16(dst *float32, w unsafe.Pointer, nb, sa, so, pf int)
// Widens nb (≥ 1) blocks of one Rows4 group at w (16 columns × 4 rows each) into the gemm panel at dst:
// row r of block b goes to dst + 256·b + r·sa bytes (columns 0–7) and 8 floats further by so bytes
// (columns 8–15). With lanes L = 8: sa = 32, so = 128 (blocks of 8 columns, [2b+h][4][8]); with L = 16:
// sa = 64, so = 32 ([b][4][16]). The same span pf bytes past w (the next group) is prefetched.
TEXT ·packR4BF16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), BX
	MOVQ nb+16(FP), CX
	MOVQ sa+24(FP), R12
	MOVQ so+32(FP), R10
	MOVQ pf+40(FP), DX
	LEAQ (R12)(R12*1), R13
	LEAQ (R13)(R12*1), R14
	VPBROADCASTD rows4mask<>(SB), Y15
packR4_block:
	PREFETCHT0 (BX)(DX*1)
	PREFETCHT0 64(BX)(DX*1)
	LEAQ (DI)(R10*1), R8
	VMOVDQU 0(BX), Y0
	VMOVDQU 32(BX), Y2
	VMOVDQU 64(BX), Y4
	VMOVDQU 96(BX), Y6
	VPSLLD $16, Y0, Y1
	VPAND Y15, Y0, Y0
	VPSLLD $16, Y2, Y3
	VPAND Y15, Y2, Y2
	VPSLLD $16, Y4, Y5
	VPAND Y15, Y4, Y4
	VPSLLD $16, Y6, Y7
	VPAND Y15, Y6, Y6
	VMOVUPS Y1, (DI)
	VMOVUPS Y0, (R8)
	VMOVUPS Y3, (DI)(R12*1)
	VMOVUPS Y2, (R8)(R12*1)
	VMOVUPS Y5, (DI)(R13*1)
	VMOVUPS Y4, (R8)(R13*1)
	VMOVUPS Y7, (DI)(R14*1)
	VMOVUPS Y6, (R8)(R14*1)
	ADDQ $128, BX
	ADDQ $256, DI
	DECQ CX
	JNZ packR4_block
	VZEROUPPER
	RET

// func toRows4BF16(dst, src unsafe.Pointer, k, groups int)
// Writes groups (≥ 1) groups of 4 row-major bf16 rows of k columns (a positive multiple of 16) at src
// into the Rows4 layout at dst: per block of 16 columns and row, words 0–7 and 8–15 interleaved.
TEXT ·toRows4BF16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ k+16(FP), CX
	MOVQ groups+24(FP), R11
	LEAQ (CX)(CX*1), R8
	SHRQ $4, CX
toR4_group:
	MOVQ SI, R12
	LEAQ (SI)(R8*1), R13
	LEAQ (R13)(R8*1), R14
	LEAQ (R14)(R8*1), DX
	MOVQ CX, R9
toR4_block:
	VMOVDQU (R12), X0
	VMOVDQU 16(R12), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU X2, 0(DI)
	VMOVDQU X3, 16(DI)
	VMOVDQU (R13), X4
	VMOVDQU 16(R13), X5
	VPUNPCKLWD X5, X4, X6
	VPUNPCKHWD X5, X4, X7
	VMOVDQU X6, 32(DI)
	VMOVDQU X7, 48(DI)
	VMOVDQU (R14), X0
	VMOVDQU 16(R14), X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU X2, 64(DI)
	VMOVDQU X3, 80(DI)
	VMOVDQU (DX), X4
	VMOVDQU 16(DX), X5
	VPUNPCKLWD X5, X4, X6
	VPUNPCKHWD X5, X4, X7
	VMOVDQU X6, 96(DI)
	VMOVDQU X7, 112(DI)
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	ADDQ $32, DX
	ADDQ $128, DI
	DECQ R9
	JNZ toR4_block
	LEAQ (SI)(R8*4), SI
	DECQ R11
	JNZ toR4_group
	RET

// func lin4R4BF16(nt int, x *float32, ldx int, w unsafe.Pointer, k int, y *float32, ldy int)
// For t < nt (1–3) and the four rows i of the Rows4 group at w (k columns, a positive multiple of 16):
// y[t·ldy + i] += Σ_{c<k} x[t·ldx + c]·W[i, c]. Each (t, i) has one accumulator: per block of 16 columns
// the products of columns 0–7, then of 8–15, lane by lane; the lanes are then added pairwise. The group is
// read once, its lines 1024 bytes ahead prefetched (into L2). Tokens past nt read x row 0 and are not stored.
TEXT ·lin4R4BF16(SB), NOSPLIT, $0-56
	MOVQ nt+0(FP), DX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	MOVQ w+24(FP), BX
	MOVQ k+32(FP), CX
	MOVQ y+40(FP), DI
	MOVQ ldy+48(FP), R9
	SHLQ $2, R8
	SHLQ $2, R9
	SHRQ $4, CX
	MOVQ SI, R12
	MOVQ SI, R13
	CMPQ DX, $2
	JLT lin4R4_x
	LEAQ (SI)(R8*1), R12
	CMPQ DX, $3
	JLT lin4R4_x
	LEAQ (R12)(R8*1), R13
lin4R4_x:
	VPBROADCASTD rows4mask<>(SB), Y15
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
lin4R4_block:
	PREFETCHT1 1024(BX)
	PREFETCHT1 1088(BX)
	VMOVDQU 0(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS 0(SI), Y13, Y0
	VFMADD231PS 32(SI), Y12, Y0
	VFMADD231PS 0(R12), Y13, Y4
	VFMADD231PS 32(R12), Y12, Y4
	VFMADD231PS 0(R13), Y13, Y8
	VFMADD231PS 32(R13), Y12, Y8
	VMOVDQU 32(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS 0(SI), Y13, Y1
	VFMADD231PS 32(SI), Y12, Y1
	VFMADD231PS 0(R12), Y13, Y5
	VFMADD231PS 32(R12), Y12, Y5
	VFMADD231PS 0(R13), Y13, Y9
	VFMADD231PS 32(R13), Y12, Y9
	VMOVDQU 64(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS 0(SI), Y13, Y2
	VFMADD231PS 32(SI), Y12, Y2
	VFMADD231PS 0(R12), Y13, Y6
	VFMADD231PS 32(R12), Y12, Y6
	VFMADD231PS 0(R13), Y13, Y10
	VFMADD231PS 32(R13), Y12, Y10
	VMOVDQU 96(BX), Y12
	VPSLLD $16, Y12, Y13
	VPAND Y15, Y12, Y12
	VFMADD231PS 0(SI), Y13, Y3
	VFMADD231PS 32(SI), Y12, Y3
	VFMADD231PS 0(R12), Y13, Y7
	VFMADD231PS 32(R12), Y12, Y7
	VFMADD231PS 0(R13), Y13, Y11
	VFMADD231PS 32(R13), Y12, Y11
	ADDQ $64, SI
	ADDQ $64, R12
	ADDQ $64, R13
	ADDQ $128, BX
	DECQ CX
	JNZ lin4R4_block
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X12
	VADDPS X12, X0, X0
	VMOVUPS (DI), X13
	VADDPS X13, X0, X0
	VMOVUPS X0, (DI)
	CMPQ DX, $2
	JLT lin4R4_done
	ADDQ R9, DI
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X12
	VADDPS X12, X4, X4
	VMOVUPS (DI), X13
	VADDPS X13, X4, X4
	VMOVUPS X4, (DI)
	CMPQ DX, $3
	JLT lin4R4_done
	ADDQ R9, DI
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X12
	VADDPS X12, X8, X8
	VMOVUPS (DI), X13
	VADDPS X13, X8, X8
	VMOVUPS X8, (DI)
lin4R4_done:
	VZEROUPPER
	RET
