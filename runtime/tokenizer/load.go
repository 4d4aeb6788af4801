package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Load reads a Hugging Face tokenizer.json holding a byte-level BPE.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	return t, nil
}

// Open loads path as a model/tokenizer directory (LoadDir) when it is a directory, as the tokenizer a
// GGUF file stores (OpenGGUF) when it is one, and as a tokenizer.json file (Load) otherwise.
func Open(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if st.IsDir() {
		return LoadDir(path)
	}
	if IsGGUF(path) {
		return OpenGGUF(path)
	}
	return Load(path)
}

// LoadDir loads dir/tokenizer.json and, when present, dir/tokenizer_config.json (eos_token, chat
// template) and dir/generation_config.json (eos_token_id), as found in a HF model directory.
func LoadDir(dir string) (*Tokenizer, error) {
	t, err := Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	if data, err := readOptional(cfgPath); err != nil {
		return nil, err
	} else if data != nil {
		if err := t.applyTokenizerConfig(data); err != nil {
			return nil, fmt.Errorf("tokenizer config %s: %w", cfgPath, err)
		}
	}
	genPath := filepath.Join(dir, "generation_config.json")
	ids, err := ReadGenerationEOS(genPath)
	if err != nil {
		return nil, err
	}
	t.addEOS(ids...)
	return t, nil
}

// ReadGenerationEOS returns eos_token_id (a number or a list) from a generation_config.json; a
// missing file yields nil and no error.
func ReadGenerationEOS(path string) ([]int64, error) {
	data, err := readOptional(path)
	if err != nil || data == nil {
		return nil, err
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(data, &gc); err != nil {
		return nil, fmt.Errorf("generation config %s: %w", path, err)
	}
	if isNull(gc.EOS) {
		return nil, nil
	}
	var one int64
	if err := json.Unmarshal(gc.EOS, &one); err == nil {
		return []int64{one}, nil
	}
	var many []int64
	if err := json.Unmarshal(gc.EOS, &many); err != nil {
		return nil, fmt.Errorf("generation config %s: eos_token_id %s is neither an id nor a list of ids", path, gc.EOS)
	}
	return many, nil
}

// AddEOS appends end-of-sequence ids (e.g. from ReadGenerationEOS of a model directory). Call it
// before sharing the tokenizer between goroutines.
func (t *Tokenizer) AddEOS(ids ...int64) { t.addEOS(ids...) }

func (t *Tokenizer) addEOS(ids ...int64) {
	for _, id := range ids {
		if !t.IsEOS(id) {
			t.eos = append(t.eos, id)
		}
	}
}

func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return data, nil
}

// applyTokenizerConfig takes eos_token (a string or an AddedToken object) and chat_template.
func (t *Tokenizer) applyTokenizerConfig(data []byte) error {
	var cfg struct {
		EOS          json.RawMessage `json:"eos_token"`
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	if !isNull(cfg.EOS) {
		var s string
		if err := json.Unmarshal(cfg.EOS, &s); err != nil {
			var obj struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(cfg.EOS, &obj); err != nil {
				return fmt.Errorf("eos_token %s is neither a string nor a token object", cfg.EOS)
			}
			s = obj.Content
		}
		id, ok := t.TokenID(s)
		if !ok {
			return fmt.Errorf("eos_token %q is not in the vocabulary", s)
		}
		t.addEOS(id)
	}
	if !isNull(cfg.ChatTemplate) {
		// A single template is a string; the list form [{"name":..., "template":...}] picks "default".
		if err := json.Unmarshal(cfg.ChatTemplate, &t.chatTemplate); err != nil {
			var list []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(cfg.ChatTemplate, &list); err != nil {
				return fmt.Errorf("chat_template is neither a string nor a list of named templates")
			}
			for _, e := range list {
				if e.Name == "default" {
					t.chatTemplate = e.Template
				}
			}
		}
	}
	return nil
}

// Parse builds a tokenizer from the contents of a tokenizer.json.
func Parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	m, err := parseModel(f.Model)
	if err != nil {
		return nil, err
	}
	return build(&f, m, len(m.Merges), func(rank int) (string, string, error) { return parseMerge(m.Merges[rank]) })
}

// build makes the tokenizer of a decoded tokenizer.json: the components of f, the BPE model m and its n
// merges, merge(rank) giving the pair of rank.
func build(f *fileJSON, m *modelJSON, n int, merge func(rank int) (string, string, error)) (*Tokenizer, error) {
	var err error
	t := &Tokenizer{
		vocab:        make(map[string]int64, len(m.Vocab)+len(f.AddedTokens)),
		pieces:       make(map[int64]string, len(m.Vocab)+len(f.AddedTokens)),
		pieceBytes:   make(map[int64][]byte, len(m.Vocab)+len(f.AddedTokens)),
		special:      map[int64]bool{},
		maxID:        -1,
		unkID:        -1,
		fuseUnk:      m.FuseUnk,
		ignoreMerges: m.IgnoreMerges,
		cache:        map[string][]int64{},
	}
	if t.nfc, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.splits, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := checkDecoder(f.Decoder); err != nil {
		return nil, err
	}
	for tok, id := range m.Vocab {
		if id < 0 || id > 1<<31-1 {
			return nil, fmt.Errorf("vocab id %d of %q is out of range", id, tok)
		}
		t.setToken(tok, id)
	}
	if err := t.buildMerges(m, n, merge); err != nil {
		return nil, err
	}
	if err := t.buildAdded(f.AddedTokens); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tokenizer) setToken(tok string, id int64) {
	t.vocab[tok] = id
	t.pieces[id] = tok
	t.pieceBytes[id] = pieceToBytes(tok)
	if id > t.maxID {
		t.maxID = id
	}
}

func (t *Tokenizer) buildMerges(m *modelJSON, n int, merge func(rank int) (string, string, error)) error {
	for b := range t.byteIDs {
		t.byteIDs[b] = -1
		if id, ok := m.Vocab[string(byteToRune[b])]; ok {
			t.byteIDs[b] = id
		}
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return fmt.Errorf("unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		t.unkID = id
	}
	t.merges = make(map[uint64]mergeInfo, n)
	for rank := range n {
		a, b, err := merge(rank)
		if err != nil {
			return fmt.Errorf("merge %d: %w", rank, err)
		}
		ia, oka := m.Vocab[a]
		ib, okb := m.Vocab[b]
		in, okn := m.Vocab[a+b]
		if !oka || !okb || !okn {
			return fmt.Errorf("merge %d (%q %q) uses a token missing from the vocabulary", rank, a, b)
		}
		// Like HF, a pair listed twice keeps its last rank.
		t.merges[pairKey(ia, ib)] = mergeInfo{rank: int32(rank), newID: in}
	}
	return nil
}

func (t *Tokenizer) buildAdded(list []addedTokenJSON) error {
	var raw, normed []addedToken
	for _, a := range list {
		if a.Content == "" {
			return fmt.Errorf("added token %d has empty content", a.ID)
		}
		if a.ID < 0 || a.ID > 1<<31-1 {
			return fmt.Errorf("added token %q has out-of-range id %d", a.Content, a.ID)
		}
		t.setToken(a.Content, a.ID)
		if a.Special {
			t.special[a.ID] = true
		}
		at := addedToken{content: a.Content, id: a.ID, lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord}
		if a.Normalized {
			if t.nfc {
				at.content = nfc(at.content)
			}
			normed = append(normed, at)
		} else {
			raw = append(raw, at)
		}
	}
	t.rawAdded = newAddedMatcher(raw)
	t.normAdded = newAddedMatcher(normed)
	return nil
}
