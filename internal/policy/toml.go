package policy

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeTOML reads the TOML the policy is written in into p: top-level
// "key = value" lines, values being strings (basic or literal), booleans or
// arrays of strings (over several lines, with comments and a trailing comma),
// which is every form the policy's keys take. It is this package's own
// because the hook reads the policy for every container: a general TOML
// library costs it a parse several times slower and, at start-up, a read of
// /etc/localtime. Anything else TOML allows (tables, dotted keys, numbers,
// dates, multi-line strings) is refused with the line it is on: the policy
// has no key that takes it, so the file is wrong either way. Unknown keys
// are errors, as are keys given twice.
func decodeTOML(data string, p *Policy) error {
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if tag := v.Type().Field(i).Tag.Get("toml"); tag != "" {
			fields[tag] = v.Field(i)
		}
	}
	if !utf8.ValidString(data) {
		return fmt.Errorf("not valid UTF-8")
	}
	// TOML allows no control character but tab and line ends, anywhere.
	line := 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\n':
			line++
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n', c == '\t':
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("line %d: control character %#02x", line, c)
		}
	}
	d := &tomlDecoder{s: data, line: 1}
	seen := map[string]bool{}
	var unknown []string
	for {
		d.skipBlank()
		if d.eof() {
			break
		}
		if d.peek() == '[' {
			// A table: the policy has none, so its name is an unknown key,
			// and so is all that follows.
			end := strings.IndexByte(d.s[d.i:], '\n')
			if end < 0 {
				end = len(d.s) - d.i
			}
			name := strings.Trim(strings.TrimSpace(stripComment(d.s[d.i:d.i+end])), "[]")
			unknown = append(unknown, strings.TrimSpace(name))
			break
		}
		line := d.line
		key, err := d.key()
		if err != nil {
			return err
		}
		d.skipSpace()
		if !d.consume('=') {
			return fmt.Errorf("line %d: %s: expected '=' after the key", line, key)
		}
		d.skipSpace()
		val, err := d.value(key)
		if err != nil {
			return err
		}
		d.skipSpace()
		if !d.eof() && d.peek() == '#' {
			d.skipComment()
		}
		if !d.eof() && !d.consume('\n') && !d.consumeCRLF() {
			return fmt.Errorf("line %d: %s: unexpected %q after the value", d.line, key, d.rest())
		}
		if seen[key] {
			return fmt.Errorf("line %d: %s: given twice", line, key)
		}
		seen[key] = true
		f, ok := fields[key]
		if !ok {
			unknown = append(unknown, key)
			continue
		}
		if err := set(f, val); err != nil {
			return fmt.Errorf("line %d: %s: %w", line, key, err)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown key(s): %s", strings.Join(unknown, ", "))
	}
	return nil
}

// set stores val (a string, a bool or a []string) into f.
func set(f reflect.Value, val any) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("want a string")
		}
		return u.UnmarshalText([]byte(s))
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("want a string")
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return fmt.Errorf("want true or false")
		}
		f.SetBool(b)
	case reflect.Slice:
		ss, ok := val.([]string)
		if !ok {
			return fmt.Errorf("want an array of strings")
		}
		f.Set(reflect.ValueOf(ss))
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}

type tomlDecoder struct {
	s    string
	i    int
	line int
}

func (d *tomlDecoder) eof() bool    { return d.i >= len(d.s) }
func (d *tomlDecoder) peek() byte   { return d.s[d.i] }
func (d *tomlDecoder) rest() string { return clipLine(d.s[d.i:]) }

func (d *tomlDecoder) consume(c byte) bool {
	if !d.eof() && d.s[d.i] == c {
		d.i++
		if c == '\n' {
			d.line++
		}
		return true
	}
	return false
}

func (d *tomlDecoder) consumeCRLF() bool {
	if strings.HasPrefix(d.s[d.i:], "\r\n") {
		d.i += 2
		d.line++
		return true
	}
	return false
}

func (d *tomlDecoder) skipSpace() {
	for !d.eof() && (d.s[d.i] == ' ' || d.s[d.i] == '\t') {
		d.i++
	}
}

func (d *tomlDecoder) skipComment() {
	for !d.eof() && d.s[d.i] != '\n' {
		d.i++
	}
}

// skipBlank skips spaces, comments and line ends.
func (d *tomlDecoder) skipBlank() {
	for !d.eof() {
		switch d.s[d.i] {
		case ' ', '\t', '\r':
			d.i++
		case '\n':
			d.i++
			d.line++
		case '#':
			d.skipComment()
		default:
			return
		}
	}
}

func isBareKey(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (d *tomlDecoder) key() (string, error) {
	line := d.line
	if !d.eof() && (d.peek() == '"' || d.peek() == '\'') {
		k, err := d.str()
		if err != nil {
			return "", err
		}
		return k, d.noDottedKey(line, k)
	}
	start := d.i
	for !d.eof() && isBareKey(d.peek()) {
		d.i++
	}
	if d.i == start {
		return "", fmt.Errorf("line %d: expected a key, found %q", line, d.rest())
	}
	k := d.s[start:d.i]
	return k, d.noDottedKey(line, k)
}

func (d *tomlDecoder) noDottedKey(line int, k string) error {
	d.skipSpace()
	if !d.eof() && d.peek() == '.' {
		return fmt.Errorf("line %d: %s: dotted keys are not part of the policy", line, k)
	}
	return nil
}

// value reads a string, a boolean or an array of strings.
func (d *tomlDecoder) value(key string) (any, error) {
	line := d.line
	switch {
	case d.eof() || d.peek() == '\n' || d.peek() == '\r' || d.peek() == '#':
		return nil, fmt.Errorf("line %d: %s: expected value", line, key)
	case d.peek() == '"' || d.peek() == '\'':
		return d.str()
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, d.endOfAtom(line, key)
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, d.endOfAtom(line, key)
	case d.peek() == '[':
		d.i++
		out := []string{}
		for {
			d.skipBlank()
			if d.eof() {
				return nil, fmt.Errorf("line %d: %s: unterminated array", line, key)
			}
			if d.consume(']') {
				return out, nil
			}
			if d.peek() != '"' && d.peek() != '\'' {
				return nil, fmt.Errorf("line %d: %s: want an array of strings, found %q", d.line, key, d.rest())
			}
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			d.skipBlank()
			if d.eof() {
				return nil, fmt.Errorf("line %d: %s: unterminated array", line, key)
			}
			if d.consume(']') {
				return out, nil
			}
			if !d.consume(',') {
				return nil, fmt.Errorf("line %d: %s: expected ',' or ']' in the array, found %q", d.line, key, d.rest())
			}
		}
	}
	return nil, fmt.Errorf("line %d: %s: want a string, true, false or an array of strings, found %q", line, key, d.rest())
}

func (d *tomlDecoder) endOfAtom(line int, key string) error {
	if !d.eof() && isBareKey(d.peek()) {
		return fmt.Errorf("line %d: %s: want a string, true, false or an array of strings, found %q", line, key, d.rest())
	}
	return nil
}

// str reads a basic ("...", with escapes) or literal ('...') string on
// one line; multi-line strings are refused.
func (d *tomlDecoder) str() (string, error) {
	line := d.line
	q := d.s[d.i]
	if strings.HasPrefix(d.s[d.i:], string([]byte{q, q, q})) {
		return "", fmt.Errorf("line %d: multi-line strings are not part of the policy", line)
	}
	d.i++
	var b strings.Builder
	for {
		if d.eof() || d.s[d.i] == '\n' {
			return "", fmt.Errorf("line %d: unterminated string", line)
		}
		c := d.s[d.i]
		d.i++
		switch {
		case c == q:
			return b.String(), nil
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", fmt.Errorf("line %d: control character %#02x in a string", line, c)
		case c == '\\' && q == '"':
			if d.eof() {
				return "", fmt.Errorf("line %d: unterminated string", line)
			}
			e := d.s[d.i]
			d.i++
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case '"':
				b.WriteByte('"')
			case '\\':
				b.WriteByte('\\')
			case 'u', 'U':
				n := map[byte]int{'u': 4, 'U': 8}[e]
				if len(d.s)-d.i < n {
					return "", fmt.Errorf("line %d: short \\%c escape", line, e)
				}
				r, err := strconv.ParseUint(d.s[d.i:d.i+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) || strings.ContainsAny(d.s[d.i:d.i+n], "+-") {
					return "", fmt.Errorf("line %d: bad \\%c escape %q", line, e, d.s[d.i:d.i+n])
				}
				d.i += n
				b.WriteRune(rune(r))
			default:
				return "", fmt.Errorf("line %d: bad escape \\%c", line, e)
			}
		default:
			b.WriteByte(c)
		}
	}
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

func clipLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
