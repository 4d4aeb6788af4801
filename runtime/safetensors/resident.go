package safetensors

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readResident reads the size bytes of f into private anonymous memory (advised for huge pages before
// the first touch, so that the kernel can back it with 2 MiB pages) and makes it read-only, like a
// mapping of the file. It is released with syscall.Munmap, as a mapping is.
// progress, when not nil, is called after each chunk with the bytes read so far and size.
func readResident(f *os.File, size int64, progress func(read, total int64)) ([]byte, error) {
	data, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("resident copy of %d bytes: %w", size, err)
	}
	adviseHugePages(data)
	// Fault every page in before reading into it (one write per 4 KiB; with huge pages one fault per
	// 2 MiB), then read in chunks: in a one-off throwaway program on this project's VM, reading 1.9 GB
	// from the page cache straight into untouched memory took 2.2–6.5 s, touched first 0.6 s. The load
	// time is reported by BenchmarkResidentAB (runtime); it grows when the kernel must compact memory
	// for each huge page.
	for i := 0; i < len(data); i += 4096 {
		data[i] = 0
	}
	const chunk = 64 << 20
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if _, err := f.ReadAt(data[off:end], int64(off)); err != nil {
			_ = syscall.Munmap(data)
			return nil, fmt.Errorf("read at byte %d: %w", off, err)
		}
		if progress != nil {
			progress(int64(end), size)
		}
	}
	if err := unix.Mprotect(data, unix.PROT_READ); err != nil {
		_ = syscall.Munmap(data)
		return nil, fmt.Errorf("resident copy: mprotect: %w", err)
	}
	return data, nil
}

// cumulativeProgress turns the progress of files read one after the other into progress over all of
// them: total is the sum of their sizes, and a file's last call (read == its size) moves the base.
func cumulativeProgress(paths []string, progress func(read, total int64)) func(read, size int64) {
	var total int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	var base int64 // bytes of the files already read
	return func(read, size int64) {
		progress(base+read, total)
		if read == size {
			base += size
		}
	}
}
