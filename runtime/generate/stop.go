package generate

import "strings"

// stopMatcher finds stop strings in streamed text. It emits text as soon as it cannot be the start of
// a stop string and holds back the longest tail that still could be, so a stop string split across
// tokens never reaches the output.
type stopMatcher struct {
	stops []string
	held  string
}

// push adds text and returns what may be emitted now; stopped is true when a stop string was found
// (out is then the text before it, and the rest is dropped).
func (m *stopMatcher) push(text string) (out string, stopped bool) {
	if len(m.stops) == 0 {
		return text, false
	}
	m.held += text
	if i := m.first(); i >= 0 {
		out, m.held = m.held[:i], ""
		return out, true
	}
	keep := m.partialTail()
	out, m.held = m.held[:len(m.held)-keep], m.held[len(m.held)-keep:]
	return out, false
}

// flush returns the held text (generation ended without completing a stop string).
func (m *stopMatcher) flush() string {
	out := m.held
	m.held = ""
	return out
}

// first returns the earliest position of any stop string in the held text, or −1.
func (m *stopMatcher) first() int {
	best := -1
	for _, s := range m.stops {
		if i := strings.Index(m.held, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// partialTail returns the length of the longest suffix of the held text that is a proper prefix of a
// stop string.
func (m *stopMatcher) partialTail() int {
	best := 0
	for _, s := range m.stops {
		for k := min(len(s)-1, len(m.held)); k > best; k-- {
			if strings.HasSuffix(m.held, s[:k]) {
				best = k
				break
			}
		}
	}
	return best
}
