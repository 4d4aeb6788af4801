package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseIDs parses a comma-separated list of token ids ("1,2,3").
func parseIDs(flag, s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--%s: empty id list", flag)
	}
	var ids []int64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not a token id", flag, f)
		}
		ids = append(ids, v)
	}
	return ids, nil
}
