//go:build amd64 && !purego

#include "textflag.h"

// Vector exp for the activations: four float32 inputs are widened to float64, exp(±x) is evaluated in
// float64 (range reduction by ln 2 split in two parts, then the degree-12 Taylor polynomial on
// |r| ≤ ln2/2, error ≈ 2e-16 relative; the argument is clamped to [−708, 708], NaN passes), the
// activation is formed in float64 and rounded once to float32 - so the results are those of the float64
// math.Exp formulas of act.go up to a last-bit difference about once in 10⁸ values.

DATA actc<>+0(SB)/8, $0x3ff71547652b82fe
DATA actc<>+8(SB)/8, $0x3ff71547652b82fe
DATA actc<>+16(SB)/8, $0x3ff71547652b82fe
DATA actc<>+24(SB)/8, $0x3ff71547652b82fe
DATA actc<>+32(SB)/8, $0x3fe62e42fee00000
DATA actc<>+40(SB)/8, $0x3fe62e42fee00000
DATA actc<>+48(SB)/8, $0x3fe62e42fee00000
DATA actc<>+56(SB)/8, $0x3fe62e42fee00000
DATA actc<>+64(SB)/8, $0x3dea39ef35793c76
DATA actc<>+72(SB)/8, $0x3dea39ef35793c76
DATA actc<>+80(SB)/8, $0x3dea39ef35793c76
DATA actc<>+88(SB)/8, $0x3dea39ef35793c76
DATA actc<>+96(SB)/8, $0xc086200000000000
DATA actc<>+104(SB)/8, $0xc086200000000000
DATA actc<>+112(SB)/8, $0xc086200000000000
DATA actc<>+120(SB)/8, $0xc086200000000000
DATA actc<>+128(SB)/8, $0x4086200000000000
DATA actc<>+136(SB)/8, $0x4086200000000000
DATA actc<>+144(SB)/8, $0x4086200000000000
DATA actc<>+152(SB)/8, $0x4086200000000000
DATA actc<>+160(SB)/8, $0x3ff0000000000000
DATA actc<>+168(SB)/8, $0x3ff0000000000000
DATA actc<>+176(SB)/8, $0x3ff0000000000000
DATA actc<>+184(SB)/8, $0x3ff0000000000000
DATA actc<>+192(SB)/8, $0xbff0000000000000
DATA actc<>+200(SB)/8, $0xbff0000000000000
DATA actc<>+208(SB)/8, $0xbff0000000000000
DATA actc<>+216(SB)/8, $0xbff0000000000000
DATA actc<>+224(SB)/8, $0x3ff0000000000000
DATA actc<>+232(SB)/8, $0x3ff0000000000000
DATA actc<>+240(SB)/8, $0x3ff0000000000000
DATA actc<>+248(SB)/8, $0x3ff0000000000000
DATA actc<>+256(SB)/8, $0x3ff0000000000000
DATA actc<>+264(SB)/8, $0x3ff0000000000000
DATA actc<>+272(SB)/8, $0x3ff0000000000000
DATA actc<>+280(SB)/8, $0x3ff0000000000000
DATA actc<>+288(SB)/8, $0x3fe0000000000000
DATA actc<>+296(SB)/8, $0x3fe0000000000000
DATA actc<>+304(SB)/8, $0x3fe0000000000000
DATA actc<>+312(SB)/8, $0x3fe0000000000000
DATA actc<>+320(SB)/8, $0x3fc5555555555555
DATA actc<>+328(SB)/8, $0x3fc5555555555555
DATA actc<>+336(SB)/8, $0x3fc5555555555555
DATA actc<>+344(SB)/8, $0x3fc5555555555555
DATA actc<>+352(SB)/8, $0x3fa5555555555555
DATA actc<>+360(SB)/8, $0x3fa5555555555555
DATA actc<>+368(SB)/8, $0x3fa5555555555555
DATA actc<>+376(SB)/8, $0x3fa5555555555555
DATA actc<>+384(SB)/8, $0x3f81111111111111
DATA actc<>+392(SB)/8, $0x3f81111111111111
DATA actc<>+400(SB)/8, $0x3f81111111111111
DATA actc<>+408(SB)/8, $0x3f81111111111111
DATA actc<>+416(SB)/8, $0x3f56c16c16c16c17
DATA actc<>+424(SB)/8, $0x3f56c16c16c16c17
DATA actc<>+432(SB)/8, $0x3f56c16c16c16c17
DATA actc<>+440(SB)/8, $0x3f56c16c16c16c17
DATA actc<>+448(SB)/8, $0x3f2a01a01a01a01a
DATA actc<>+456(SB)/8, $0x3f2a01a01a01a01a
DATA actc<>+464(SB)/8, $0x3f2a01a01a01a01a
DATA actc<>+472(SB)/8, $0x3f2a01a01a01a01a
DATA actc<>+480(SB)/8, $0x3efa01a01a01a01a
DATA actc<>+488(SB)/8, $0x3efa01a01a01a01a
DATA actc<>+496(SB)/8, $0x3efa01a01a01a01a
DATA actc<>+504(SB)/8, $0x3efa01a01a01a01a
DATA actc<>+512(SB)/8, $0x3ec71de3a556c734
DATA actc<>+520(SB)/8, $0x3ec71de3a556c734
DATA actc<>+528(SB)/8, $0x3ec71de3a556c734
DATA actc<>+536(SB)/8, $0x3ec71de3a556c734
DATA actc<>+544(SB)/8, $0x3e927e4fb7789f5c
DATA actc<>+552(SB)/8, $0x3e927e4fb7789f5c
DATA actc<>+560(SB)/8, $0x3e927e4fb7789f5c
DATA actc<>+568(SB)/8, $0x3e927e4fb7789f5c
DATA actc<>+576(SB)/8, $0x3e5ae64567f544e4
DATA actc<>+584(SB)/8, $0x3e5ae64567f544e4
DATA actc<>+592(SB)/8, $0x3e5ae64567f544e4
DATA actc<>+600(SB)/8, $0x3e5ae64567f544e4
DATA actc<>+608(SB)/8, $0x3e21eed8eff8d898
DATA actc<>+616(SB)/8, $0x3e21eed8eff8d898
DATA actc<>+624(SB)/8, $0x3e21eed8eff8d898
DATA actc<>+632(SB)/8, $0x3e21eed8eff8d898
DATA actc<>+640(SB)/8, $0x7ff0000000000000
DATA actc<>+648(SB)/8, $0x7ff0000000000000
DATA actc<>+656(SB)/8, $0x7ff0000000000000
DATA actc<>+664(SB)/8, $0x7ff0000000000000
GLOBL actc<>(SB), RODATA|NOPTR, $672

// EXPPD(X, R, T, XT, E): E = exp(Y14·X) for the float64 lanes of X (+Inf above 708); R, T, Y15 scratch
// (XT = T as X).
#define EXPPD(X, R, T, XT, E) \
	VMULPD Y14, X, R; \
	VCMPPD $0x1e, Y12, R, Y15; \
	VMAXPD R, Y11, R; \
	VMINPD R, Y12, R; \
	VMULPD Y8, R, T; \
	VROUNDPD $0, T, T; \
	VFNMADD231PD Y9, T, R; \
	VFNMADD231PD Y10, T, R; \
	VMOVUPD actc<>+608(SB), E; \
	VFMADD213PD actc<>+576(SB), R, E; \
	VFMADD213PD actc<>+544(SB), R, E; \
	VFMADD213PD actc<>+512(SB), R, E; \
	VFMADD213PD actc<>+480(SB), R, E; \
	VFMADD213PD actc<>+448(SB), R, E; \
	VFMADD213PD actc<>+416(SB), R, E; \
	VFMADD213PD actc<>+384(SB), R, E; \
	VFMADD213PD actc<>+352(SB), R, E; \
	VFMADD213PD actc<>+320(SB), R, E; \
	VFMADD213PD actc<>+288(SB), R, E; \
	VFMADD213PD actc<>+256(SB), R, E; \
	VFMADD213PD actc<>+224(SB), R, E; \
	VCVTPD2DQY T, XT; \
	VPMOVSXDQ XT, T; \
	VPSLLQ $52, T, T; \
	VPADDQ T, E, E; \
	VBLENDVPD Y15, actc<>+640(SB), E, E

// func actKernel(mode int, dst, src, up *float32, n int)
// mode 0: dst = exp(src); 1: dst = 1/(1+exp(−src)); 2: dst = src/(1+exp(−src));
// 3: dst = float32(src/(1+exp(−src)))·up. n is a positive multiple of 8.
TEXT ·actKernel(SB), NOSPLIT, $0-40
	MOVQ mode+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ up+24(FP), DX
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	VMOVUPD actc<>+0(SB), Y8
	VMOVUPD actc<>+32(SB), Y9
	VMOVUPD actc<>+64(SB), Y10
	VMOVUPD actc<>+96(SB), Y11
	VMOVUPD actc<>+128(SB), Y12
	VMOVUPD actc<>+160(SB), Y13
	VMOVUPD actc<>+192(SB), Y14
	TESTQ AX, AX
	JNZ act_loop
	VMOVUPD Y13, Y14

act_loop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y4
	EXPPD(Y0, Y1, Y2, X2, Y3)
	EXPPD(Y4, Y5, Y6, X6, Y7)
	TESTQ AX, AX
	JZ act_store
	VADDPD Y13, Y3, Y3
	VADDPD Y13, Y7, Y7
	CMPQ AX, $1
	JNE act_silu
	VDIVPD Y3, Y13, Y3
	VDIVPD Y7, Y13, Y7
	JMP act_store

act_silu:
	VDIVPD Y3, Y0, Y3
	VDIVPD Y7, Y4, Y7

act_store:
	VCVTPD2PSY Y3, X3
	VCVTPD2PSY Y7, X7
	CMPQ AX, $3
	JNE act_put
	VMULPS (DX), X3, X3
	VMULPS 16(DX), X7, X7
	ADDQ $32, DX

act_put:
	VMOVUPS X3, (DI)
	VMOVUPS X7, 16(DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ act_loop
	VZEROUPPER
	RET
