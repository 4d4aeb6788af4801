// Package mapfile gives a whole file as one read-only byte slice: a shared memory mapping of it, or a
// private in-memory copy read up front and advised for transparent huge pages (Options.Resident). The
// checkpoint readers (runtime/safetensors, runtime/gguf) take their tensors as views into it.
package mapfile

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options says how a file is brought into memory.
type Options struct {
	// Resident reads the file into private anonymous memory, advised for transparent huge pages,
	// instead of mapping it: every byte is read at open and the memory is not shared with other
	// processes, but streaming it then takes fewer TLB misses (docs/run.md, --no-mmap).
	Resident bool
	// Progress, when set with Resident, is called after each chunk read with the bytes read so far and
	// the file's size.
	Progress func(read, total int64)
}

// Open returns the bytes of the file at path (read-only) and its size; a file shorter than min bytes
// is refused before anything is mapped. Release the bytes with Close.
func Open(path string, min int64, o Options) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if size < min {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for a header", path, size)
	}
	if size == 0 {
		return []byte{}, nil
	}
	var data []byte
	if o.Resident {
		data, err = readResident(f, size, o.Progress)
	} else {
		data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// Close releases the bytes returned by Open that *data holds and sets it to nil (nothing to do when it
// is nil or empty); they must not be used afterwards.
func Close(data *[]byte) error {
	b := *data
	*data = nil
	if len(b) == 0 {
		return nil
	}
	return syscall.Munmap(b)
}

// Anon returns size bytes of zeroed private memory advised for transparent huge pages (fewer page faults
// than the Go heap for gigabytes written once, such as dequantized weights), released with Close.
func Anon(size int) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	data, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("anonymous memory of %d bytes: %w", size, err)
	}
	adviseHugePages(data)
	return data, nil
}

// hugePage is the size of a transparent huge page on amd64 and arm64 (with 4 KiB base pages).
const hugePage = 2 << 20

// Huge returns size bytes of zeroed private memory that start on a 2 MiB boundary and are advised for
// transparent huge pages, for pools that live as long as the process: it is never released. Filling
// fresh memory costs a page fault per 4 KiB otherwise (~3 µs each with the zeroing on this project's
// VM: 6 MiB copied into new Go heap memory 5.2–7.3 ms, into this 0.9–1.1 ms). Where the kernel gives no
// huge pages it is ordinary anonymous memory.
func Huge(size int) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	// Map a huge page more than asked and use the aligned part: the kernel backs only whole aligned
	// 2 MiB ranges of a mapping with huge pages. The slack is never touched, so it costs no memory.
	data, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("anonymous memory of %d bytes: %w", size, err)
	}
	skip := int(-uintptr(unsafe.Pointer(&data[0])) & (hugePage - 1))
	data = data[skip : skip+size : skip+size]
	adviseHugePages(data)
	return data, nil
}

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

// Release drops this process's pages of b, a part of a file mapping returned by Open (not of a resident
// copy or of Anon memory, whose contents it would discard): the bytes stay readable, faulted in again
// from the page cache or the file if touched. Only the whole pages inside b are released.
func Release(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return nil
	}
	return unix.Madvise(b[lo-start:hi-start], unix.MADV_DONTNEED)
}

// Available returns the memory the kernel can give without swapping (MemAvailable of /proc/meminfo,
// in bytes), and false where that is not known.
func Available() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(string(b))
}

// parseMemAvailable reads the "MemAvailable: N kB" line of a /proc/meminfo text.
func parseMemAvailable(s string) (int64, bool) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "MemAvailable:" && f[2] == "kB" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n << 10, err == nil
		}
	}
	return 0, false
}
