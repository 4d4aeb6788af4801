package synth

import "github.com/x448/float16"

func f32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }
