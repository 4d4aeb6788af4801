package mapfile

import "golang.org/x/sys/unix"

// adviseHugePages asks for transparent huge pages over b (MADV_HUGEPAGE); a kernel without them
// ignores or refuses the advice, which changes nothing but speed.
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
