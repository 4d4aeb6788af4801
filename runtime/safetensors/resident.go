package safetensors

import "os"

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
