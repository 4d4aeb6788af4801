//go:build cuda

package main

// The CUDA backend registers itself as "cuda" (see ops/cuda).
import _ "github.com/qnext/qnext/ops/cuda"
