package generate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStopMatcher(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stops  []string
		pieces []string
		want   []string // output after each push
		stopAt int      // index of the piece that completes a stop string, −1 for none
		flush  string
	}{
		{"no stop strings pass through", nil, []string{"ab", "c"}, []string{"ab", "c"}, -1, ""},
		{"stop inside one piece", []string{"END"}, []string{"abENDcd"}, []string{"ab"}, 0, ""},
		{"stop spanning pieces", []string{"o w"}, []string{"Hel", "lo ", "wor", "ld"}, []string{"Hel", "l", ""}, 2, ""},
		{"stop spanning three pieces", []string{"<|stop|>"}, []string{"x<|", "st", "op|>y"}, []string{"x", "", ""}, 2, ""},
		{"prefix that does not complete is released", []string{"lox"}, []string{"hel", "lo", "y"}, []string{"he", "l", "loy"}, -1, ""},
		{"held prefix flushed at the end", []string{"lox"}, []string{"hel", "lo"}, []string{"he", "l"}, -1, "lo"},
		{"earliest of several stop strings", []string{"cd", "bc"}, []string{"abcd"}, []string{"a"}, 0, ""},
		{"longest partial prefix held", []string{"aab"}, []string{"xa", "a", "a", "b"}, []string{"x", "", "a", ""}, 3, ""},
		{"multi-byte text", []string{"é!"}, []string{"café", "!", "x"}, []string{"caf", ""}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &stopMatcher{stops: tc.stops}
			var got []string
			stopped := -1
			for i, p := range tc.pieces {
				out, hit := m.push(p)
				got = append(got, out)
				if hit {
					stopped = i
					break
				}
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.stopAt, stopped)
			assert.Equal(t, tc.flush, m.flush())
		})
	}
}
