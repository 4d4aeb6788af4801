//go:build amd64 && !purego

#include "textflag.h"

// func momentsAVX2(x, y *float32, n int, acc *moments)
// acc (6 × 4 float64 lanes: Σ|d|, Σd², Σx², Σy², Σxy, Σy) += the pairs x[i], y[i], i < n (n a positive
// multiple of 4), widened to float64; lane j takes the elements i ≡ j (mod 4). d = x − y.
TEXT ·momentsAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VMOVUPD 0(DX), Y0
	VMOVUPD 32(DX), Y1
	VMOVUPD 64(DX), Y2
	VMOVUPD 96(DX), Y3
	VMOVUPD 128(DX), Y4
	VMOVUPD 160(DX), Y5
	VBROADCASTSD absMask<>(SB), Y12
	SHRQ $2, CX
moments_loop:
	VCVTPS2PD (SI), Y13
	VCVTPS2PD (DI), Y14
	VSUBPD Y14, Y13, Y15
	VANDPD Y12, Y15, Y11
	VADDPD Y11, Y0, Y0
	VFMADD231PD Y15, Y15, Y1
	VFMADD231PD Y13, Y13, Y2
	VFMADD231PD Y14, Y14, Y3
	VFMADD231PD Y14, Y13, Y4
	VADDPD Y14, Y5, Y5
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ moments_loop
	VMOVUPD Y0, 0(DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VZEROUPPER
	RET

// func tolAVX2(x, y *float32, n int, c *tolConsts, acc *tolLanes)
// For the finite pairs x[i], y[i], i < n (n a positive multiple of 4), lane j taking i ≡ j (mod 4), with
// ad = |x − y|, ay = |y| in float64: the largest ad and its index (the first, strictly greater), the count
// of ad − rtol·ay > atol, the largest ad − rtol·ay, the largest (ad − atol)/ay among the pairs where
// ad − atol > (lane's current value)·ay, and the largest ULP distance. acc holds the lanes' running
// values on entry (indices as float64, −1 = none yet).
TEXT ·tolAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), R8
	MOVQ acc+32(FP), DX
	VMOVUPD 0(DX), Y6    // maxAbs
	VMOVUPD 32(DX), Y7   // at (float64 index)
	VMOVDQU 64(DX), Y9   // out (int64)
	VMOVUPD 96(DX), Y10  // minAtol
	VMOVUPD 128(DX), Y11 // minRtol
	VMOVDQU 160(DX), Y12 // maxULP (int64)
	VMOVUPD 0(R8), Y8    // index of each lane's current element: base + 0, 1, 2, 3
	VBROADCASTSD absMask<>(SB), Y15
	SHRQ $2, CX
tol_loop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD (DI), Y1
	VSUBPD Y1, Y0, Y2
	VANDPD Y15, Y2, Y2          // ad
	VANDPD Y15, Y1, Y1          // ay
	// max |d| and its index
	VCMPPD $0x1e, Y6, Y2, Y3    // ad > maxAbs (GT_OQ)
	VBLENDVPD Y3, Y2, Y6, Y6
	VBLENDVPD Y3, Y8, Y7, Y7
	// excess = ad − rtol·ay: out-of-tolerance count and the least atol
	VMULPD 64(R8), Y1, Y3       // rtol·ay
	VSUBPD Y3, Y2, Y3           // excess
	VCMPPD $0x1e, 32(R8), Y3, Y4 // excess > atol
	VPSUBQ Y4, Y9, Y9
	VMAXPD Y10, Y3, Y10
	// the least rtol: (ad − atol)/ay where ad − atol > minRtol·ay
	VSUBPD 32(R8), Y2, Y3       // e = ad − atol
	VMULPD Y11, Y1, Y4          // minRtol·ay
	VCMPPD $0x1e, Y4, Y3, Y4    // e > minRtol·ay
	VDIVPD Y1, Y3, Y3           // e/ay
	VBLENDVPD Y4, Y3, Y11, Y11
	// ULP distance: keys k = b ≥ 0 ? b : 0x80000000 − b (int32 bits b), |kx − ky| in int64
	VMOVDQU (SI), X0
	VMOVDQU (DI), X1
	VPBROADCASTD signBit<>(SB), X5
	VPSUBD X0, X5, X2
	VBLENDVPS X0, X2, X0, X0
	VPSUBD X1, X5, X2
	VBLENDVPS X1, X2, X1, X1
	VPMOVSXDQ X0, Y0
	VPMOVSXDQ X1, Y1
	VPSUBQ Y1, Y0, Y2           // kx − ky
	VPSUBQ Y0, Y1, Y3           // ky − kx
	VPXOR Y4, Y4, Y4
	VPCMPGTQ Y2, Y4, Y4         // kx − ky < 0
	VBLENDVPD Y4, Y3, Y2, Y2    // |kx − ky|
	VPCMPGTQ Y12, Y2, Y4        // > maxULP
	VBLENDVPD Y4, Y2, Y12, Y12
	VADDPD 96(R8), Y8, Y8       // next indices
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ tol_loop
	VMOVUPD Y6, 0(DX)
	VMOVUPD Y7, 32(DX)
	VMOVDQU Y9, 64(DX)
	VMOVUPD Y10, 96(DX)
	VMOVUPD Y11, 128(DX)
	VMOVDQU Y12, 160(DX)
	VZEROUPPER
	RET

DATA absMask<>+0(SB)/8, $0x7fffffffffffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $8
DATA signBit<>+0(SB)/4, $0x80000000
GLOBL signBit<>(SB), RODATA|NOPTR, $4
