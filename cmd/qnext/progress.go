package main

import (
	"fmt"
	"io"
	"os"
)

// terminal returns w as a terminal to draw progress on, or nil (pipes and logs get no carriage-return
// noise).
func terminal(w io.Writer) *os.File {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

// drawBar draws "\r<label> [====    ] <count>" on f, and clears the line when done reaches total.
func drawBar(f *os.File, label string, done, total float64, count string) {
	const width = 30
	n := 0
	if total > 0 {
		n = int(width * done / total)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < n {
			bar[i] = '='
		}
	}
	fmt.Fprintf(f, "\r%s [%s] %s", label, bar, count)
	if done >= total {
		fmt.Fprint(f, "\r\033[K")
	}
}

// loadProgress returns a layer-binding progress printer for runtime.LoadOptions.Progress when w is a
// terminal, nil otherwise.
func loadProgress(w io.Writer) func(done, total int) {
	f := terminal(w)
	if f == nil {
		return nil
	}
	return func(done, total int) {
		drawBar(f, "loading", float64(done), float64(total), fmt.Sprintf("%d/%d layers", done, total))
	}
}

// readProgress returns a progress printer for runtime.LoadOptions.ReadProgress (--no-mmap reads every
// byte before the first layer binds) when w is a terminal, nil otherwise.
func readProgress(w io.Writer) func(read, total int64) {
	f := terminal(w)
	if f == nil {
		return nil
	}
	return func(read, total int64) {
		drawBar(f, "reading", float64(read), float64(total), fmt.Sprintf("%.1f/%.1f GB", float64(read)/1e9, float64(total)/1e9))
	}
}
