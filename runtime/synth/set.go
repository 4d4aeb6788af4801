package synth

import (
	"fmt"
	"reflect"
	"strconv"
)

// Set sets the field called name (as in Config: "Hidden", "MoeInter", …) from its text form; for sizes
// no preset has, e.g. rows that hold whole 256-value k-quant blocks.
func (c *Config) Set(name, value string) error {
	f := reflect.ValueOf(c).Elem().FieldByName(name)
	if !f.IsValid() || !f.CanSet() {
		return fmt.Errorf("synth: no field %s", name)
	}
	var err error
	switch f.Kind() {
	case reflect.Int:
		var v int64
		if v, err = strconv.ParseInt(value, 10, 0); err == nil {
			f.SetInt(v)
		}
	case reflect.Uint64:
		var v uint64
		if v, err = strconv.ParseUint(value, 10, 64); err == nil {
			f.SetUint(v)
		}
	case reflect.Float64:
		var v float64
		if v, err = strconv.ParseFloat(value, 64); err == nil {
			f.SetFloat(v)
		}
	case reflect.Bool:
		var v bool
		if v, err = strconv.ParseBool(value); err == nil {
			f.SetBool(v)
		}
	case reflect.String:
		f.SetString(value)
	default:
		return fmt.Errorf("synth: field %s (%s) cannot be set from text", name, f.Kind())
	}
	if err != nil {
		return fmt.Errorf("synth: %s=%q: %w", name, value, err)
	}
	return nil
}
