//go:build amd64 && !purego

#include "textflag.h"

// The two passes of one recurrent delta-rule step over a head's state S [rows, cols] (row-major, cols a
// multiple of 32): deltaVecMat2 reads S once for two vector-matrix products, deltaRank1 rewrites it
// decayed plus a rank-1 term. See DeltaRuleRecurrent.

// func deltaVecMat2(s *float32, rows, cols int, a, b, ra, rb *float32)
// ra[j] = Σ_i a[i]·s[i·cols+j] and rb[j] = Σ_i b[i]·s[i·cols+j], rows in order, for every j < cols; rows ≥ 1.
// Columns go in blocks of 32: eight accumulators (4 for ra, 4 for rb) over all the rows of a block.
TEXT ·deltaVecMat2(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ cols+16(FP), R12
	MOVQ a+24(FP), R8
	MOVQ b+32(FP), R9
	MOVQ ra+40(FP), R10
	MOVQ rb+48(FP), R11
	SHLQ $2, R12 // row stride in bytes
	XORQ BX, BX  // byte offset of the column block

vm2_block:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	LEAQ   (SI)(BX*1), DI
	XORQ   AX, AX

vm2_row:
	VBROADCASTSS (R8)(AX*4), Y8
	VBROADCASTSS (R9)(AX*4), Y9
	VMOVUPS      (DI), Y10
	VMOVUPS      32(DI), Y11
	VMOVUPS      64(DI), Y12
	VMOVUPS      96(DI), Y13
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y10, Y9, Y4
	VFMADD231PS  Y11, Y9, Y5
	VFMADD231PS  Y12, Y9, Y6
	VFMADD231PS  Y13, Y9, Y7
	ADDQ         R12, DI
	INCQ         AX
	CMPQ         AX, CX
	JB           vm2_row

	VMOVUPS Y0, (R10)(BX*1)
	VMOVUPS Y1, 32(R10)(BX*1)
	VMOVUPS Y2, 64(R10)(BX*1)
	VMOVUPS Y3, 96(R10)(BX*1)
	VMOVUPS Y4, (R11)(BX*1)
	VMOVUPS Y5, 32(R11)(BX*1)
	VMOVUPS Y6, 64(R11)(BX*1)
	VMOVUPS Y7, 96(R11)(BX*1)
	ADDQ    $128, BX
	CMPQ    BX, R12
	JB      vm2_block
	VZEROUPPER
	RET

// func deltaRank1(s *float32, rows, cols int, decay float32, k, u *float32)
// s[i·cols+j] = decay·s[i·cols+j] + k[i]·u[j] (the product rounded, then the fused add) for i < rows
// (≥ 1), j < cols.
TEXT ·deltaRank1(SB), NOSPLIT, $0-48
	MOVQ         s+0(FP), DI
	MOVQ         rows+8(FP), CX
	MOVQ         cols+16(FP), DX
	VBROADCASTSS decay+24(FP), Y9
	MOVQ         k+32(FP), R8
	MOVQ         u+40(FP), R9
	SHLQ         $2, DX // row stride in bytes

r1_row:
	VBROADCASTSS (R8), Y8
	XORQ         BX, BX

r1_block:
	VMULPS      (DI)(BX*1), Y9, Y0
	VMULPS      32(DI)(BX*1), Y9, Y1
	VMULPS      64(DI)(BX*1), Y9, Y2
	VMULPS      96(DI)(BX*1), Y9, Y3
	VFMADD231PS (R9)(BX*1), Y8, Y0
	VFMADD231PS 32(R9)(BX*1), Y8, Y1
	VFMADD231PS 64(R9)(BX*1), Y8, Y2
	VFMADD231PS 96(R9)(BX*1), Y8, Y3
	VMOVUPS     Y0, (DI)(BX*1)
	VMOVUPS     Y1, 32(DI)(BX*1)
	VMOVUPS     Y2, 64(DI)(BX*1)
	VMOVUPS     Y3, 96(DI)(BX*1)
	ADDQ        $128, BX
	CMPQ        BX, DX
	JB          r1_block

	ADDQ DX, DI
	ADDQ $4, R8
	DECQ CX
	JNZ  r1_row
	VZEROUPPER
	RET
