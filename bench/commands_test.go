package bench

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeasureCommands(t *testing.T) {
	dir := t.TempDir()
	run := []string{"sh", "-c", "exit 0"}
	dump := []string{"sh", "-c", `test "$1" = --out && mkdir -p "$2" && echo x > "$2/f"`, "sh"} // gets --out DIR
	c, err := MeasureCommands(Reps{Warmup: 1, Min: 3}, run, dump, dir)
	require.NoError(t, err)
	require.Len(t, c.RunP.Seconds, 3)
	require.Len(t, c.DumpP.Seconds, 3)
	require.Greater(t, c.Ratio, 0.0)
	require.Equal(t, dump, c.Dump, "the --out argument is added per run, not kept")
	left, _ := os.ReadDir(dir)
	require.Empty(t, left, "dump directories removed")

	_, err = MeasureCommands(Reps{Min: 1}, []string{"sh", "-c", "echo oops >&2; exit 3"}, dump, dir)
	require.ErrorContains(t, err, "exit status 3")
	require.ErrorContains(t, err, "oops")
}
