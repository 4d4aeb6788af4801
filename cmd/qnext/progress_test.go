package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The progress printers stay silent off a terminal, and the bar fills with what is done and clears the
// line at the end.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	assert.Nil(t, loadProgress(&buf), "not a terminal")
	assert.Nil(t, readProgress(&buf), "not a terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.Nil(t, readProgress(f), "a regular file is not a terminal")
	for _, c := range []struct{ done, total float64 }{{1, 3}, {3, 3}} {
		drawBar(f, "reading", c.done, c.total, "x")
	}
	out, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	lines := strings.Split(string(out), "\r")
	require.Len(t, lines, 4) // "", 1/3, 3/3, the clearing "\033[K"
	assert.Equal(t, "reading ["+strings.Repeat("=", 10)+strings.Repeat(" ", 20)+"] x", lines[1])
	assert.Equal(t, "reading ["+strings.Repeat("=", 30)+"] x", lines[2])
	assert.Equal(t, "\033[K", lines[3])
}
