//go:build amd64 && !purego

#include "textflag.h"

// func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int, beta float32)
// C[r][j] = (load ? beta·C[r][j] : 0) + Σ_{p<k} A[r][p]·B[p][j] for r < 4, j < 16 (strides in floats).
TEXT ·sgemm4x16(SB), NOSPLIT, $0-68
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (R8)(R8*2), R11
	LEAQ (R10)(R10*2), R12
	MOVQ load+56(FP), AX
	TESTQ AX, AX
	JNZ  g4_load
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	JMP  g4_check

g4_load:
	VBROADCASTSS beta+64(FP), Y15
	VMULPS       (DX), Y15, Y0
	VMULPS       32(DX), Y15, Y1
	VMULPS       (DX)(R10*1), Y15, Y2
	VMULPS       32(DX)(R10*1), Y15, Y3
	VMULPS       (DX)(R10*2), Y15, Y4
	VMULPS       32(DX)(R10*2), Y15, Y5
	VMULPS       (DX)(R12*1), Y15, Y6
	VMULPS       32(DX)(R12*1), Y15, Y7

g4_check:
	TESTQ CX, CX
	JZ    g4_store

g4_loop:
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VBROADCASTSS (SI)(R8*1), Y11
	VBROADCASTSS (SI)(R8*2), Y12
	VBROADCASTSS (SI)(R11*1), Y13
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, SI
	ADDQ         R9, DI
	DECQ         CX
	JNZ          g4_loop

g4_store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R10*1)
	VMOVUPS Y3, 32(DX)(R10*1)
	VMOVUPS Y4, (DX)(R10*2)
	VMOVUPS Y5, 32(DX)(R10*2)
	VMOVUPS Y6, (DX)(R12*1)
	VMOVUPS Y7, 32(DX)(R12*1)
	VZEROUPPER
	RET

// func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32, load int, beta float32)
// c[j] = (load ? beta·c[j] : 0) + Σ_{p<k} a[p]·B[p][j] for j < 16. Even and odd p accumulate
// separately (two chains per half) and are added at the end.
TEXT ·sgemm1x16(SB), NOSPLIT, $0-52
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	MOVQ   ldb+24(FP), R9
	MOVQ   c+32(FP), DX
	SHLQ   $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   load+40(FP), AX
	TESTQ  AX, AX
	JZ     g1_pairs
	VBROADCASTSS beta+48(FP), Y15
	VMULPS       (DX), Y15, Y0
	VMULPS       32(DX), Y15, Y1

g1_pairs:
	MOVQ CX, AX
	SHRQ $1, AX
	JZ   g1_odd

g1_loop:
	VBROADCASTSS (SI), Y10
	VBROADCASTSS 4(SI), Y11
	VFMADD231PS  (DI), Y10, Y0
	VFMADD231PS  32(DI), Y10, Y1
	VFMADD231PS  (DI)(R9*1), Y11, Y2
	VFMADD231PS  32(DI)(R9*1), Y11, Y3
	ADDQ         $8, SI
	LEAQ         (DI)(R9*2), DI
	DECQ         AX
	JNZ          g1_loop

g1_odd:
	ANDQ $1, CX
	JZ   g1_store
	VBROADCASTSS (SI), Y10
	VFMADD231PS  (DI), Y10, Y0
	VFMADD231PS  32(DI), Y10, Y1

g1_store:
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
