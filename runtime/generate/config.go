package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ReadGenerationConfig returns the sampling defaults of a Hugging Face generation_config.json:
// temperature, top_k, top_p, min_p and repetition_penalty when do_sample is true, greedy otherwise
// (as transformers does). A missing file gives greedy Sampling and no error.
func ReadGenerationConfig(path string) (Sampling, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Sampling{}, nil
	}
	if err != nil {
		return Sampling{}, fmt.Errorf("generate: %w", err)
	}
	var gc struct {
		DoSample          bool     `json:"do_sample"`
		Temperature       *float64 `json:"temperature"`
		TopK              *int     `json:"top_k"`
		TopP              *float64 `json:"top_p"`
		MinP              *float64 `json:"min_p"`
		RepetitionPenalty *float64 `json:"repetition_penalty"`
	}
	if err := json.Unmarshal(data, &gc); err != nil {
		return Sampling{}, fmt.Errorf("generate: %s: %w", path, err)
	}
	var s Sampling
	if gc.RepetitionPenalty != nil {
		s.RepeatPenalty = *gc.RepetitionPenalty
	}
	if gc.DoSample {
		s.Temperature = 1
		if gc.Temperature != nil {
			s.Temperature = *gc.Temperature
		}
		if gc.TopK != nil {
			s.TopK = *gc.TopK
		}
		if gc.TopP != nil {
			s.TopP = *gc.TopP
		}
		if gc.MinP != nil {
			s.MinP = *gc.MinP
		}
	}
	if err := s.Validate(); err != nil {
		return Sampling{}, fmt.Errorf("generate: %s: %w", path, err)
	}
	return s, nil
}
