// Package asmcheck finds, in Go assembly, legacy SSE instructions (no VEX prefix) that run while the upper
// halves of the vector registers may be dirty, and AVX functions that return without VZEROUPPER.
//
// Either costs a state transition on some x86 cores. On this project's VM one legacy MOVSS and one MOVL to
// an X register at the end of a 64-float AVX2 min/max took it from ~10 to ~126 ns per call (dump's
// minmaxAVX2, a call per node of a dump), so the rule is checked over every .s file of the module.
package asmcheck

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Problem is one offending instruction.
type Problem struct {
	File string
	Line int    // 1-based line of the instruction (of the macro use, for an instruction from a macro)
	Func string // the TEXT symbol
	Text string // the instruction
	Why  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", p.File, p.Line, p.Func, p.Text, p.Why)
}

var (
	wideReg  = regexp.MustCompile(`\b[YZ]([0-9]|[12][0-9]|3[01])\b`)
	xmmReg   = regexp.MustCompile(`\bX([0-9]|[12][0-9]|3[01])\b`)
	defineRe = regexp.MustCompile(`^#define\s+(\w+)(\(([^)]*)\))?\s*(.*)$`)
	useRe    = regexp.MustCompile(`^(\w+)(\((.*)\))?$`)
)

// macro is a #define: its parameters and its instructions (the body split at ';').
type macro struct {
	params []string
	body   []string
}

// Check reads one assembly file.
func Check(path string) ([]Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return check(path, lines), nil
}

func check(path string, lines []string) []Problem {
	macros := map[string]macro{}
	var out []Problem
	fn, dirty, wide := "", false, false // wide: the function has used a Y or Z register so far
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(stripComment(lines[i]))
		if m := defineRe.FindStringSubmatch(line); m != nil {
			body := m[4]
			for strings.HasSuffix(body, `\`) && i+1 < len(lines) {
				i++
				body = strings.TrimSuffix(body, `\`) + " " + strings.TrimSpace(stripComment(lines[i]))
			}
			mc := macro{}
			if m[3] != "" {
				for _, p := range strings.Split(m[3], ",") {
					mc.params = append(mc.params, strings.TrimSpace(p))
				}
			}
			for _, ins := range strings.Split(body, ";") {
				if ins = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(ins), `\`)); ins != "" {
					mc.body = append(mc.body, ins)
				}
			}
			macros[m[1]] = mc
			continue
		}
		if strings.HasPrefix(line, "TEXT ") {
			fn, dirty, wide = strings.TrimSuffix(strings.Fields(line)[1], ","), false, false
			continue
		}
		if strings.HasSuffix(line, ":") {
			dirty = wide // a jump may come from anywhere after a wide instruction
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") || fn == "" {
			continue
		}
		for _, ins := range expand(line, macros) {
			op := strings.Fields(ins)[0]
			switch {
			case op == "VZEROUPPER" || op == "VZEROALL":
				dirty = false
			case op == "RET" && dirty:
				out = append(out, Problem{path, i + 1, fn, ins, "returns with the upper halves dirty (VZEROUPPER first)"})
			case wideReg.MatchString(ins):
				dirty, wide = true, true
			case dirty && !strings.HasPrefix(op, "V") && !strings.HasPrefix(op, "K") && xmmReg.MatchString(ins):
				out = append(out, Problem{path, i + 1, fn, ins, "legacy SSE encoding while the upper halves are dirty (use the V form)"})
			}
		}
	}
	return out
}

// expand returns the instructions of one line: a macro use becomes its body with the arguments put in
// for the parameters; anything else is itself.
func expand(line string, macros map[string]macro) []string {
	m := useRe.FindStringSubmatch(line)
	if m == nil {
		return []string{line}
	}
	mc, ok := macros[m[1]]
	if !ok {
		return []string{line}
	}
	var args []string
	if m[3] != "" {
		for _, a := range strings.Split(m[3], ",") {
			args = append(args, strings.TrimSpace(a))
		}
	}
	out := make([]string, 0, len(mc.body))
	for _, ins := range mc.body {
		for k, p := range mc.params {
			if k < len(args) {
				ins = regexp.MustCompile(`\b`+regexp.QuoteMeta(p)+`\b`).ReplaceAllString(ins, args[k])
			}
		}
		out = append(out, ins)
	}
	return out
}

func stripComment(s string) string {
	if i := strings.Index(s, "//"); i >= 0 {
		return s[:i]
	}
	return s
}
