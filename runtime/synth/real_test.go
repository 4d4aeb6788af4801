package synth_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/safetensors"
	"github.com/qnext/qnext/runtime/synth"
)

func TestWriteShardedMatchesWriteLayout(t *testing.T) {
	for _, c := range []synth.Config{synth.Tiny(), func() synth.Config {
		c := synth.Tiny()
		c.DType, c.FusedExperts, c.AttnBias, c.Tie, c.MlpOnlyLayers = "BF16", true, true, true, []int{1}
		return c
	}()} {
		dir := t.TempDir()
		plain, sharded := filepath.Join(dir, "plain"), filepath.Join(dir, "sharded")
		require.NoError(t, synth.Write(plain, c))
		require.NoError(t, synth.WriteSharded(sharded, c, 64<<10))

		a, err := safetensors.OpenDir(plain)
		require.NoError(t, err)
		defer a.Close()
		b, err := safetensors.OpenDir(sharded)
		require.NoError(t, err)
		defer b.Close()
		assert.Greater(t, len(b.Files), 2, "shards")
		require.Len(t, b.Tensors, len(a.Tensors))
		for name, ta := range a.Tensors {
			tb, ok := b.Tensors[name]
			require.True(t, ok, name)
			assert.Equal(t, ta.Shape, tb.Shape, name)
			assert.Equal(t, ta.DType, tb.DType, name)
		}
		_, err = os.Stat(filepath.Join(sharded, "model.safetensors.index.json"))
		require.NoError(t, err)

		m, err := runtime.Load(sharded, runtime.LoadOptions{})
		require.NoError(t, err)
		logits, err := m.Forward(m.NewState(), []int64{1, 2, 3, 4}, nil)
		require.NoError(t, err)
		for _, v := range logits {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
		}
		m.Close()
	}
}

func TestRealLayersConfig(t *testing.T) {
	for n, want := range map[int][]string{
		1: {runtime.FullAttention},
		2: {runtime.LinearAttention, runtime.FullAttention},
		4: {runtime.LinearAttention, runtime.LinearAttention, runtime.LinearAttention, runtime.FullAttention},
		5: {runtime.LinearAttention, runtime.LinearAttention, runtime.LinearAttention, runtime.FullAttention, runtime.LinearAttention},
	} {
		c := synth.RealLayers(n)
		cfg, err := runtime.ParseConfig(mustJSON(t, c.HFConfig()))
		require.NoError(t, err)
		assert.Equal(t, want, cfg.LayerTypes, "n=%d", n)
		assert.Equal(t, 151936, cfg.VocabSize)
		assert.Equal(t, 512, cfg.NumExperts)
	}
}

// procStatus returns the kB values of /proc/self/status fields.
func procStatus(t *testing.T) map[string]int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if ok && len(fields) == 2 && fields[1] == "kB" {
			n, _ := strconv.ParseInt(fields[0], 10, 64)
			out[k] = n
		}
	}
	return out
}

// TestRealShapesMemory writes RealLayers(n) (n = $QNEXT_REAL_LAYERS, default 2: 7.3 GiB), loads it,
// runs a prefill of $QNEXT_REAL_PROMPT tokens (default 16) and 4 decode steps, and reports the peak RSS
// against the checkpoint size.
// Opt-in: QNEXT_REAL_SHAPES=1 (and not -short). $QNEXT_REAL_DIR keeps the checkpoint between runs.
func TestRealShapesMemory(t *testing.T) {
	if testing.Short() || os.Getenv("QNEXT_REAL_SHAPES") != "1" {
		t.Skip("writes a multi-GB checkpoint: set QNEXT_REAL_SHAPES=1 to run")
	}
	n := 2
	if s := os.Getenv("QNEXT_REAL_LAYERS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	c := synth.RealLayers(n)
	dir := os.Getenv("QNEXT_REAL_DIR")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "real")
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); err != nil {
		t0 := time.Now()
		require.NoError(t, synth.WriteSharded(dir, c, 2<<30))
		t.Logf("wrote %s in %.1fs", dir, time.Since(t0).Seconds())
	}
	shards, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(shards), 2)
	var fileBytes int64
	for _, s := range shards {
		st, err := os.Stat(s)
		require.NoError(t, err)
		fileBytes += st.Size()
	}

	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM (Linux ≥ 4.0)
	before := procStatus(t)
	t0 := time.Now()
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	require.NoError(t, err)
	defer m.Close()
	load := time.Since(t0)
	afterLoad := procStatus(t)

	st := m.NewState()
	T := 16
	if s := os.Getenv("QNEXT_REAL_PROMPT"); s != "" {
		T, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	ids := make([]int64, T)
	for i := range ids {
		ids[i] = int64(1000 + 7919*i%150000)
	}
	t0 = time.Now()
	logits, err := m.Forward(st, ids, nil)
	require.NoError(t, err)
	prefill := time.Since(t0)
	V := c.VocabSize
	t0 = time.Now()
	for range 4 {
		row := logits[len(logits)-V:]
		next := int64(slices.Index(row, slices.Max(row)))
		logits, err = m.Forward(st, []int64{next}, nil)
		require.NoError(t, err)
	}
	decode := time.Since(t0)
	after := procStatus(t)

	gib := func(kb int64) float64 { return float64(kb) / (1 << 20) }
	t.Logf("RealLayers(%d): %d shards, %.2f GiB of safetensors", n, len(shards), float64(fileBytes)/(1<<30))
	t.Logf("load %.2fs: VmRSS %.2f → %.2f GiB", load.Seconds(), gib(before["VmRSS"]), gib(afterLoad["VmRSS"]))
	t.Logf("prefill %d tokens %.2fs (%.1f tok/s), 4 decode steps %.2fs (%.2f tok/s)",
		T, prefill.Seconds(), float64(T)/prefill.Seconds(), decode.Seconds(), 4/decode.Seconds())
	t.Logf("after: VmHWM %.2f GiB, VmRSS %.2f GiB (RssFile %.2f GiB mapped weights, RssAnon %.2f GiB heap)",
		gib(after["VmHWM"]), gib(after["VmRSS"]), gib(after["RssFile"]), gib(after["RssAnon"]))
	// Zero-copy mmap: anonymous memory stays small; the peak never needs a second copy of the weights.
	assert.Less(t, after["RssAnon"]*1024, int64(1<<30), "anonymous memory (a copy of weights?)")
	assert.Less(t, after["VmHWM"]*1024, fileBytes+1<<30, "peak RSS beyond file size + 1 GiB")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
