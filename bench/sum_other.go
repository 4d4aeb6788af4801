//go:build !amd64

package bench

func sumKernel() string { return "go" }

var kernel = sumKernel()

// Sum returns the sum of x (in an unspecified order).
func Sum(x []float32) float32 { return sumGo(x) }
