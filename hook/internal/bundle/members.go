package bundle

import (
	"encoding/json"
	"errors"
	"strings"
)

// errNotSimple makes the caller decode the whole document with
// encoding/json instead, for its exact errors.
var errNotSimple = errors.New("not for the fast path")

// members returns the raw values of the object data's members whose names
// match one of wanted the way encoding/json matches struct fields (exactly
// or case-insensitively, escapes undone), in document order: decoding them
// in that order into one value gives encoding/json's result for the whole
// object (a repeated member is decoded again over the first). The other
// members are skipped without being decoded: a config.json is tens of KiB,
// most of it a seccomp profile and environment the hook has no use for, and
// encoding/json scans every byte of it slowly. It does not validate what it
// skips: the runtime decodes the document itself and refuses an invalid
// one.
func members(data []byte, wanted ...string) (map[string][][]byte, error) {
	s := scanner{b: data}
	s.ws()
	if !s.eat('{') {
		return nil, errNotSimple
	}
	out := map[string][][]byte{}
	s.ws()
	if s.eat('}') {
		return out, s.end()
	}
	for {
		s.ws()
		key, err := s.key()
		if err != nil {
			return nil, err
		}
		s.ws()
		if !s.eat(':') {
			return nil, errNotSimple
		}
		s.ws()
		start := s.i
		if err := s.skip(0); err != nil {
			return nil, err
		}
		if name, ok := match(key, wanted); ok {
			out[name] = append(out[name], data[start:s.i])
		}
		s.ws()
		if s.eat('}') {
			return out, s.end()
		}
		if !s.eat(',') {
			return nil, errNotSimple
		}
	}
}

// match finds key among wanted as encoding/json matches a field name.
func match(key string, wanted []string) (string, bool) {
	for _, w := range wanted {
		if key == w {
			return w, true
		}
	}
	for _, w := range wanted {
		if strings.EqualFold(key, w) {
			return w, true
		}
	}
	return "", false
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return errNotSimple
	}
	return nil
}

// key reads a member name, undoing escapes as encoding/json does.
func (s *scanner) key() (string, error) {
	start := s.i
	escaped, err := s.str()
	if err != nil {
		return "", err
	}
	raw := s.b[start:s.i]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", errNotSimple
	}
	return k, nil
}

// str skips a string and says whether it has escapes.
func (s *scanner) str() (escaped bool, _ error) {
	if !s.eat('"') {
		return false, errNotSimple
	}
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return false, errNotSimple
		default:
			s.i++
		}
	}
	return false, errNotSimple
}

// maxDepth bounds nesting, as encoding/json does (10000).
const maxDepth = 10000

// skip passes over one value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth || s.i >= len(s.b) {
		return errNotSimple
	}
	switch s.b[s.i] {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		closer := byte('}')
		if s.b[s.i] == '[' {
			closer = ']'
		}
		object := closer == '}'
		s.i++
		s.ws()
		if s.eat(closer) {
			return nil
		}
		for {
			s.ws()
			if object {
				if _, err := s.str(); err != nil {
					return err
				}
				s.ws()
				if !s.eat(':') {
					return errNotSimple
				}
				s.ws()
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat(closer) {
				return nil
			}
			if !s.eat(',') {
				return errNotSimple
			}
		}
	default:
		// A number or true, false, null.
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			s.i++
		}
		if s.i == start {
			return errNotSimple
		}
		return nil
	}
}
