package dump

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/internal/testx"
)

// TestVerifyFixtures rereads every tensor of the committed reference dumps (written by numpy through
// reference/export.py) and checks it against the exporter's manifest: shapes, dtypes and statistics.
func TestVerifyFixtures(t *testing.T) {
	for _, rel := range []string{"tiny/ref", "tiny-variants/ref"} {
		dir := filepath.Join("..", "fixtures", rel)
		if _, err := os.Stat(filepath.Join(dir, ManifestName)); err != nil {
			t.Skipf("fixture %s not available: %v", dir, err)
		}
		m, err := ReadManifest(dir)
		testx.Must(t, err)
		for i := range m.Nodes {
			testx.Must(t, m.Nodes[i].Verify(dir))
		}
	}
}
