package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// RoleKey is the key naming the command a file is for.
const RoleKey = "role"

// File is a parsed configuration file.
type File struct {
	// Path is where the file was read from, as given.
	Path string
	// Role is the value of the role key.
	Role string
	// Keys are the file's keys but role, in file order.
	Keys []Key
}

// Key is one key = value line of a file.
type Key struct {
	Name string
	Line int
	// Value is the TOML value: string, int64, float64, bool, []any, or
	// another TOML type (refused by Apply).
	Value any
}

// Error is a problem with one key of a file.
type Error struct {
	Path string
	Line int
	Key  string // "" for a problem not tied to a key
	Err  error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: key %q: %v", e.Path, e.Line, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and parses the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses data, the contents of the file at path (path is used in
// errors). It checks the TOML and that the file is flat and names its role;
// [File.Apply] checks the keys against a command's flags.
func Parse(path string, data []byte) (*File, error) {
	var values map[string]any
	if err := toml.Unmarshal(data, &values); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, &Error{Path: path, Line: line, Err: errors.New(de.Error())}
		}
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	f := &File{Path: path}
	p := unstable.Parser{}
	p.Reset(data)
	roleLine := 0
	for p.NextExpression() {
		e := p.Expression()
		line := p.Shape(e.Raw).Start.Line
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			return nil, &Error{Path: path, Line: p.Shape(e.Child().Raw).Start.Line,
				Err: errors.New("tables are not used: every key is a flag name at the top of the file")}
		case unstable.KeyValue:
		default:
			continue
		}
		var parts []string
		for it := e.Key(); it.Next(); {
			parts = append(parts, string(it.Node().Data))
		}
		name := strings.Join(parts, ".")
		if len(parts) != 1 {
			return nil, &Error{Path: path, Line: line, Key: name, Err: errors.New("dotted keys are not used: every key is a flag name")}
		}
		v := values[name]
		if name == RoleKey {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, &Error{Path: path, Line: line, Key: name, Err: fmt.Errorf("want the command's name as a string, e.g. %s = \"publish\"", RoleKey)}
			}
			f.Role, roleLine = s, line
			continue
		}
		f.Keys = append(f.Keys, Key{Name: name, Line: line, Value: v})
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if roleLine == 0 {
		return nil, &Error{Path: path, Line: 1, Err: fmt.Errorf("no %s key: say which command the file is for, e.g. %s = \"relay\"", RoleKey, RoleKey)}
	}
	return f, nil
}

// Apply sets each key of f as the flag of the same name in fs, except the
// flags keep reports true for (those given on the command line). The error
// names the file, line and key of the first key that is not a flag of fs,
// has the wrong TOML type for it, or is refused by the flag.
func (f *File) Apply(fs *flag.FlagSet, keep func(name string) bool) error {
	for _, k := range f.Keys {
		fl := fs.Lookup(k.Name)
		if fl == nil || k.Name == "config" {
			return &Error{Path: f.Path, Line: k.Line, Key: k.Name, Err: fmt.Errorf("not a setting of %q (see 'tickcast %s --help')", f.Role, f.Role)}
		}
		if keep != nil && keep(k.Name) {
			continue
		}
		s, err := text(fl, k.Value)
		if err == nil {
			err = fs.Set(k.Name, s)
		}
		if err != nil {
			return &Error{Path: f.Path, Line: k.Line, Key: k.Name, Err: err}
		}
	}
	return nil
}

// kind is what TOML type a flag takes.
type kind int

const (
	kindText kind = iota // a string, a number, or an array of them (joined by commas)
	kindBool
	kindInt
	kindFloat
	kindDuration
)

func kindOf(fl *flag.Flag) kind {
	if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return kindBool
	}
	g, ok := fl.Value.(flag.Getter)
	if !ok {
		return kindText
	}
	switch g.Get().(type) {
	case int, int64, uint, uint64:
		return kindInt
	case float64:
		return kindFloat
	case time.Duration:
		return kindDuration
	}
	return kindText
}

// text turns a TOML value into the flag's command-line text, checking its
// type.
func text(fl *flag.Flag, v any) (string, error) {
	k := kindOf(fl)
	switch x := v.(type) {
	case bool:
		if k == kindBool {
			return strconv.FormatBool(x), nil
		}
	case int64:
		switch k {
		case kindInt, kindFloat, kindText:
			return strconv.FormatInt(x, 10), nil
		}
	case float64:
		if k == kindFloat {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case string:
		if k == kindText || k == kindDuration {
			return x, nil
		}
	case []any:
		if k == kindText {
			parts := make([]string, len(x))
			for i, e := range x {
				switch e := e.(type) {
				case string:
					parts[i] = e
				case int64:
					parts[i] = strconv.FormatInt(e, 10)
				default:
					return "", fmt.Errorf("want an array of strings, got an element %s", describe(e))
				}
			}
			return strings.Join(parts, ","), nil
		}
	}
	return "", fmt.Errorf("want %s, got %s", want(k), describe(v))
}

func want(k kind) string {
	switch k {
	case kindBool:
		return "true or false"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	case kindDuration:
		return `a duration as a string, e.g. "100ms"`
	}
	return "a string"
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}
