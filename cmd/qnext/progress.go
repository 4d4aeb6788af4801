package main

import (
	"fmt"
	"io"
	"os"
)

// loadProgress returns a layer-binding progress printer for runtime.LoadOptions.Progress when w is a
// terminal, nil otherwise (pipes and logs get no carriage-return noise).
func loadProgress(w io.Writer) func(done, total int) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(done, total int) {
		const width = 30
		n := width * done / total
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < n {
				bar[i] = '='
			}
		}
		fmt.Fprintf(f, "\rloading [%s] %d/%d layers", bar, done, total)
		if done == total {
			fmt.Fprint(f, "\r\033[K")
		}
	}
}
