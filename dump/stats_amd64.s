#include "textflag.h"

// Shared by both kernels: the element min (Y8) and max (Y9) and the "any NaN or ±Inf" lanes (Y11; Y10 holds
// the exponent mask), over the elements loaded into Y12, reduced at the end to X8 and X9's lowest lane.
#define MINMAX_INIT \
	VBROADCASTSS (SI), Y8; \
	VMOVAPS      Y8, Y9; \
	MOVL         $0x7f800000, AX; \
	VMOVD        AX, X10; \
	VPBROADCASTD X10, Y10; \
	VPXOR        Y11, Y11, Y11

#define MINMAX_STEP \
	VANDPS   Y10, Y12, Y13; \
	VPCMPEQD Y10, Y13, Y13; \
	VPOR     Y13, Y11, Y11; \
	VMINPS   Y12, Y8, Y8; \
	VMAXPS   Y12, Y9, Y9

// HSUM_PD stores the sum of the 8 float64 lanes of Ya and Yb at off(DI) (lanes pairwise, then the halves).
#define HSUM_PD(ya, yb, xa, xb, off) \
	VADDPD       yb, ya, ya; \
	VEXTRACTF128 $1, ya, xb; \
	VADDPD       xb, xa, xa; \
	VHADDPD      xa, xa, xa; \
	VMOVSD       xa, off(DI)

#define MINMAX_STORE(minoff, maxoff) \
	VEXTRACTF128 $1, Y8, X12; \
	VMINPS       X12, X8, X8; \
	VSHUFPS      $0x4e, X8, X8, X12; \
	VMINPS       X12, X8, X8; \
	VSHUFPS      $0xb1, X8, X8, X12; \
	VMINPS       X12, X8, X8; \
	VMOVSS       X8, minoff(DI); \
	VEXTRACTF128 $1, Y9, X12; \
	VMAXPS       X12, X9, X9; \
	VSHUFPS      $0x4e, X9, X9, X12; \
	VMAXPS       X12, X9, X9; \
	VSHUFPS      $0xb1, X9, X9, X12; \
	VMAXPS       X12, X9, X9; \
	VMOVSS       X9, maxoff(DI)

// func statsAVX2(p *float32, n int, k float64, out *statsAcc) (bad bool)
// n is a positive multiple of 8. Accumulates, in float64 over two 4-lane registers each, Σx, Σx²,
// Σ(x−k), Σ(x−k)², and in float32 the min and max, into out; reports whether any element is NaN or
// ±Inf (the sums are then meaningless and the caller recomputes in Go).
TEXT ·statsAVX2(SB), NOSPLIT, $0-33
	MOVQ         p+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD k+16(FP), Y15
	MOVQ         out+24(FP), DI
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3
	VXORPD       Y4, Y4, Y4
	VXORPD       Y5, Y5, Y5
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	MINMAX_INIT

statsloop:
	VMOVUPS      (SI), Y12
	MINMAX_STEP
	VCVTPS2PD    X12, Y13
	VEXTRACTF128 $1, Y12, X14
	VCVTPS2PD    X14, Y14
	VADDPD       Y13, Y0, Y0
	VADDPD       Y14, Y1, Y1
	VFMADD231PD  Y13, Y13, Y2
	VFMADD231PD  Y14, Y14, Y3
	VSUBPD       Y15, Y13, Y13
	VSUBPD       Y15, Y14, Y14
	VADDPD       Y13, Y4, Y4
	VADDPD       Y14, Y5, Y5
	VFMADD231PD  Y13, Y13, Y6
	VFMADD231PD  Y14, Y14, Y7
	ADDQ         $32, SI
	SUBQ         $8, CX
	JNZ          statsloop

	// Horizontal sums: lanes pairwise, then the two halves.
	HSUM_PD(Y0, Y1, X0, X1, 0)
	HSUM_PD(Y2, Y3, X2, X3, 8)
	HSUM_PD(Y4, Y5, X4, X5, 16)
	HSUM_PD(Y6, Y7, X6, X7, 24)

	// min and max of the 8 lanes.
	MINMAX_STORE(32, 36)

	VPTEST       Y11, Y11
	SETNE        bad+32(FP)
	VZEROUPPER
	RET

// func minmaxAVX2(p *float32, n int, out *[2]float32) (bad bool)
// n is a positive multiple of 8: min and max of p[:n] into out, and whether any element is NaN or ±Inf
// (then out is meaningless).
TEXT ·minmaxAVX2(SB), NOSPLIT, $0-25
	MOVQ         p+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         out+16(FP), DI
	MINMAX_INIT

mmloop:
	VMOVUPS      (SI), Y12
	MINMAX_STEP
	ADDQ         $32, SI
	SUBQ         $8, CX
	JNZ          mmloop

	MINMAX_STORE(0, 4)

	VPTEST       Y11, Y11
	SETNE        bad+24(FP)
	VZEROUPPER
	RET
