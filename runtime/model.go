package runtime

import "errors"

// LoadOptions tune Load.
type LoadOptions struct {
	// Faults lists fault-injection names (see Faults()) to plant in the forward pass.
	Faults []string
}

// Model is a loaded, immutable Qwen3-Next checkpoint.
type Model struct {
	Cfg *Config
}

// Config is the parsed config.json.
type Config struct{}

// State is the per-sequence cache: KV cache for attention layers, conv and recurrent state for linear layers.
type State struct {
	Step int // number of forward calls made
	Pos  int // number of tokens consumed
}

// Load reads a Hugging Face checkpoint directory (config.json + safetensors).
func Load(dir string, opts LoadOptions) (*Model, error) { return nil, errors.New("runtime: not implemented yet") }

// NewState returns an empty cache for one sequence.
func (m *Model) NewState() *State { return &State{} }

// Forward runs ids ([T], T ≥ 1) after the tokens already in st and returns the logits [T, V].
// obs may be nil.
func (m *Model) Forward(st *State, ids []int64, obs Observer) ([]float32, error) {
	return nil, errors.New("runtime: not implemented yet")
}
