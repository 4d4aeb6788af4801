package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/qnext/qnext/runtime"
)

// TextStream turns ids into text as they arrive, returning only complete characters; Flush returns
// what is still held. *tokenizer.StreamDecoder implements it.
type TextStream interface {
	Add(ids ...int64) string
	Flush() string
}

// Options configure a Generator.
type Options struct {
	Sampling Sampling
	// MaxTokens bounds the tokens sampled per Generate call; 0 means until EOS, a stop string or a full
	// context.
	MaxTokens int
	// EOS lists the end-of-sequence ids (config eos_token_id, tokenizer and generation config EOS).
	EOS []int64
	// StopStrings end generation when they appear in the decoded text; they need NewText.
	StopStrings []string
	// NewText starts the text stream of one Generate call; nil means ids only (Token.Text stays "").
	NewText func() TextStream
	// Observer is passed to every forward call (e.g. a dump.Recorder); nil for none.
	Observer runtime.Observer
	// OnToken is called for every sampled token, in order; an error stops generation and is returned.
	OnToken func(Token) error
}

// Token is one sampled token, as passed to Options.OnToken.
type Token struct {
	ID int64
	// Text is the output text that became final with this token: "" while characters or a possible
	// stop string are incomplete; for the last token it includes everything held back.
	Text string
	EOS  bool // ID is an end-of-sequence id (it adds no text)
	// Step is the forward call that produced the logits, Pos its first position and In its token count.
	Step, Pos, In int
	// Logits is the raw logits row [V] the token was sampled from; valid only during the callback.
	Logits []float32
}

// StopReason says why a Generate call ended.
type StopReason string

// Stop reasons.
const (
	StopEOS       StopReason = "eos"
	StopString    StopReason = "stop string"
	StopMaxTokens StopReason = "max tokens"
	StopContext   StopReason = "context full"
	StopCancelled StopReason = "cancelled"
)

// Result summarises one Generate call.
type Result struct {
	IDs  []int64 // sampled ids, EOS included
	Text string  // emitted text (stop string and what follows excluded)
	Stop StopReason
	// PromptTokens counts the ids fed by the first forward call (the prompt, plus the previous call's
	// last token on a continuation); DecodeSteps the single-token forward calls after it.
	PromptTokens, DecodeSteps int
	Prefill, Decode           time.Duration
}

// PrefillTPS returns prompt tokens per second of the prefill call (0 when not measured).
func (r Result) PrefillTPS() float64 { return perSecond(r.PromptTokens, r.Prefill) }

// DecodeTPS returns decode steps per second (0 when there were none).
func (r Result) DecodeTPS() float64 { return perSecond(r.DecodeSteps, r.Decode) }

func perSecond(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generator generates from one sequence: its State persists across Generate calls.
type Generator struct {
	m       *runtime.Model
	st      *runtime.State
	opts    Options
	sampler *Sampler
	eos     map[int64]bool
	history []int64 // every id fed or sampled, for the repeat penalty
	pending []int64 // sampled but not yet fed
}

// New validates opts and returns a Generator with an empty State.
func New(m *runtime.Model, opts Options) (*Generator, error) {
	s, err := NewSampler(opts.Sampling)
	if err != nil {
		return nil, err
	}
	if opts.MaxTokens < 0 {
		return nil, fmt.Errorf("generate: max tokens %d must be ≥ 0", opts.MaxTokens)
	}
	for _, stop := range opts.StopStrings {
		if stop == "" {
			return nil, errors.New("generate: empty stop string")
		}
	}
	if len(opts.StopStrings) > 0 && opts.NewText == nil {
		return nil, errors.New("generate: stop strings need a tokenizer to decode the text")
	}
	g := &Generator{m: m, st: m.NewState(), opts: opts, sampler: s, eos: map[int64]bool{}}
	for _, id := range opts.EOS {
		g.eos[id] = true
	}
	return g, nil
}

// State returns the generator's cache (positions consumed so far: State().Pos).
func (g *Generator) State() *runtime.State { return g.st }

// Pending returns the sampled tokens not yet fed to the model (the last token of the previous call).
func (g *Generator) Pending() []int64 { return slices.Clone(g.pending) }

// Generate feeds the pending token and prompt, then samples until a stop condition. The Result is
// filled even when an error is returned (what was produced before it). A cancelled ctx ends the call
// between forward calls with Stop = StopCancelled and an error wrapping ctx.Err(). After a forward
// error the Generator must be discarded.
func (g *Generator) Generate(ctx context.Context, prompt []int64) (Result, error) {
	var res Result
	feed := append(slices.Clone(g.pending), prompt...)
	if len(feed) == 0 {
		return res, errors.New("generate: empty prompt")
	}
	maxPos := g.m.Cfg.MaxPositionEmbeddings
	if g.st.Pos+len(feed) > maxPos {
		return res, fmt.Errorf("generate: prompt of %d tokens (after %d cached) does not fit max_position_embeddings %d",
			len(feed), g.st.Pos, maxPos)
	}
	if err := ctx.Err(); err != nil {
		res.Stop = StopCancelled
		return res, fmt.Errorf("generate: %w", err)
	}
	var text TextStream
	if g.opts.NewText != nil {
		text = g.opts.NewText()
	}
	stops := &stopMatcher{stops: g.opts.StopStrings}
	V := g.m.Cfg.VocabSize
	for {
		pos, step := g.st.Pos, g.st.Step
		t0 := time.Now()
		logits, err := g.m.Forward(g.st, feed, g.opts.Observer)
		if err != nil {
			return res, fmt.Errorf("generate: %w", err)
		}
		g.pending = g.pending[:0]
		g.history = append(g.history, feed...)
		row := logits[len(logits)-V:]
		id, err := g.sampler.Sample(row, g.history)
		if res.IDs == nil {
			res.PromptTokens, res.Prefill = len(feed), time.Since(t0)
		} else {
			res.DecodeSteps++
			res.Decode += time.Since(t0)
		}
		if err != nil {
			return res, fmt.Errorf("generate: step %d: %w", step, err)
		}
		res.IDs = append(res.IDs, id)
		g.pending = append(g.pending, id)
		tok := Token{ID: id, EOS: g.eos[id], Step: step, Pos: pos, In: len(feed), Logits: row}
		switch {
		case tok.EOS:
			res.Stop = StopEOS
		case text != nil:
			var hit bool
			if tok.Text, hit = stops.push(text.Add(id)); hit {
				res.Stop = StopString
			}
		}
		if res.Stop == "" {
			switch {
			case g.opts.MaxTokens > 0 && len(res.IDs) >= g.opts.MaxTokens:
				res.Stop = StopMaxTokens
			case g.st.Pos >= maxPos:
				res.Stop = StopContext
			case ctx.Err() != nil:
				res.Stop = StopCancelled
			}
		}
		if res.Stop != "" && res.Stop != StopString && text != nil {
			// Release what was held: the stream's incomplete bytes, then a stop-string prefix that can
			// no longer complete (unless those very bytes complete it).
			s, hit := stops.push(text.Flush())
			tok.Text += s
			if !hit {
				tok.Text += stops.flush()
			}
		}
		res.Text += tok.Text
		if g.opts.OnToken != nil {
			if err := g.opts.OnToken(tok); err != nil {
				return res, err
			}
		}
		if res.Stop == StopCancelled {
			return res, fmt.Errorf("generate: %w", ctx.Err())
		}
		if res.Stop != "" {
			return res, nil
		}
		feed = []int64{id}
	}
}
