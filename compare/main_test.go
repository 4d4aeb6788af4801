package compare

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rootDir != "" {
		os.RemoveAll(rootDir)
	}
	os.Exit(code)
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "qnext-compare-test-") }

// row returns the result of node name at step, failing the test when absent.
func row(t testing.TB, r *Report, step int, name string) *NodeResult {
	t.Helper()
	for i := range r.Nodes {
		if r.Nodes[i].Step == step && r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	t.Fatalf("no row for step %d %s", step, name)
	return nil
}
