package compare

import (
	"os"
	"reflect"
	"strings"
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not contain %q", err, f)
		}
	}
}

func equal[T any](t testing.TB, got, want T, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func contains(t testing.TB, s string, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			t.Fatalf("output does not contain %q:\n%s", f, s)
		}
	}
}

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
