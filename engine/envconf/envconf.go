// Package envconf reads configuration structs from an environment lookup function, with the
// struct tags of github.com/kelseyhightower/envconfig (`envconfig:"NAME"`, `default:"value"`)
// plus `desc:"..."` for --help. envconfig itself reads only the process environment, while every
// Run function must read the getenv it is given (tests pass their own), so the processes share
// this small reader and the same structs serve both.
//
// It imports nothing of ClusterPulse.
package envconf

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Load fills the fields of the struct spec points to from getenv. An empty value counts as
// unset, so the default applies. Supported kinds: string, bool (strconv.ParseBool), integers,
// time.Duration and []string (comma separated, blanks dropped). Every error names the variable
// and its value; all of them are returned together.
func Load(getenv func(string) string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("load environment: %T is not a pointer to a struct", spec)
	}
	v = v.Elem()
	var errs []error
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" || !f.IsExported() {
			continue
		}
		val := getenv(name)
		if val == "" {
			val = f.Tag.Get("default")
		}
		if val == "" {
			continue
		}
		if err := set(v.Field(i), val); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, val, err))
		}
	}
	return errors.Join(errs...)
}

func set(f reflect.Value, val string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(val)
		if err != nil {
			return errors.New("not a duration (e.g. 30s)")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return errors.New("not a boolean")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, f.Type().Bits())
		if err != nil {
			return errors.New("not an integer")
		}
		f.SetInt(n)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s", f.Type())
		}
		var parts []string
		for _, p := range strings.Split(val, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// Var is one environment variable of a configuration struct.
type Var struct {
	Name    string
	Default string
	Desc    string
}

// Vars lists the variables of the structs in specs (values or pointers), in field order,
// without duplicates.
func Vars(specs ...any) []Var {
	var out []Var
	seen := map[string]bool{}
	for _, s := range specs {
		t := reflect.TypeOf(s)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("envconfig")
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, Var{Name: name, Default: f.Tag.Get("default"), Desc: f.Tag.Get("desc")})
		}
	}
	return out
}

// Usage writes the "Environment variables:" section of a --help text for specs.
func Usage(w io.Writer, specs ...any) {
	fmt.Fprintln(w, "Environment variables:")
	for _, v := range Vars(specs...) {
		fmt.Fprintf(w, "  %-32s %s", v.Name, v.Desc)
		if v.Default != "" {
			fmt.Fprintf(w, " (default %s)", v.Default)
		}
		fmt.Fprintln(w)
	}
}
