//go:build amd64 && !purego

package ops

// cpuPause executes PAUSE: a spin-wait hint that frees the core's resources for its sibling thread.
//
//go:noescape
func cpuPause()
