package testx

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"testing"
)

// RewriteNPZ rewrites the zip archive at path (stored members), replacing each member's bytes by
// edit's result; a nil result drops the member.
func RewriteNPZ(t testing.TB, path string, edit func(name string, b []byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	Must(t, err)
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		Must(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		Must(t, err)
		if b = edit(zf.Name, b); b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Store})
		Must(t, err)
		_, err = w.Write(b)
		Must(t, err)
	}
	Must(t, zw.Close())
	Must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}
