package bundle

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// errNotSimple makes the caller decode the whole document with
// encoding/json instead, for its exact result or error.
var errNotSimple = errors.New("not for the fast path")

// scanner reads the JSON documents a runtime hands the hook in one pass,
// in place: the members the hook uses are decoded where they stand, the
// others skipped without being decoded. A config.json is tens of KiB, most
// of it a seccomp profile and environment the hook has no use for, and its
// ID maps may have 340 extents a side; encoding/json would scan every byte
// once to validate and again to decode, through reflection, and set up
// each type it meets once per process, on every container start.
//
// The decoders give encoding/json's result for what they take; anything
// else (a member given twice, whose merging is encoding/json's own, a
// number in another form, a value of another type) is errNotSimple, and
// the caller decodes the whole document with encoding/json. What is
// skipped is checked as encoding/json's validation checks it (structure,
// literals, numbers, escapes, no control character in a string), but not
// decoded: a document the fast path takes is one json.Valid accepts.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// maxDepth bounds nesting, as encoding/json does (10000).
const maxDepth = 10000

func (s *scanner) ws() {
	i := s.i
	for i < len(s.b) && (s.b[i] == ' ' || s.b[i] == '\t' || s.b[i] == '\n' || s.b[i] == '\r') {
		i++
	}
	s.i = i
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// lit consumes the literal word when it comes next, as a whole token.
func (s *scanner) lit(word string) bool {
	end := s.i + len(word)
	if end > len(s.b) || string(s.b[s.i:end]) != word || end < len(s.b) && !isDelim(s.b[end]) {
		return false
	}
	s.i = end
	return true
}

// isDelim says whether c may follow a value.
func isDelim(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}'
}

func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return errNotSimple
	}
	return nil
}

// null consumes a null value.
func (s *scanner) null() bool { return s.lit("null") }

// str skips a string and says whether its content, as it stands, is what
// it decodes to: no escape, valid UTF-8 (encoding/json turns invalid bytes
// into U+FFFD).
func (s *scanner) str() (plain bool, _ error) {
	if !s.eat('"') {
		return false, errNotSimple
	}
	b, i, start := s.b, s.i, s.i
	escaped, ascii := false, true
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return !escaped && (ascii || utf8.Valid(b[start:i])), nil
		case c == '\\':
			escaped = true
			n := escapeLen(b[i+1:])
			if n == 0 {
				return false, errNotSimple
			}
			i += 1 + n
		case c < 0x20:
			return false, errNotSimple
		default:
			ascii = ascii && c < utf8.RuneSelf
			i++
		}
	}
	return false, errNotSimple
}

// string decodes a string value into *dst; null leaves it as it is.
// Escapes are undone by encoding/json, exactly.
func (s *scanner) string(dst *string) error {
	if s.null() {
		return nil
	}
	start := s.i
	plain, err := s.str()
	if err != nil {
		return err
	}
	if plain {
		*dst = string(s.b[start+1 : s.i-1])
		return nil
	}
	if json.Unmarshal(s.b[start:s.i], dst) != nil {
		return errNotSimple
	}
	return nil
}

// key reads a member name.
func (s *scanner) key() (string, error) {
	var k string
	if s.i < len(s.b) && s.b[s.i] != '"' {
		return "", errNotSimple
	}
	return k, s.string(&k)
}

// uint reads a non-negative integer of at most limit in the one form JSON
// allows (no sign, no leading zero, no fraction or exponent).
func (s *scanner) uint(limit uint64) (uint64, error) {
	b, i := s.b, s.i
	var v uint64
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + uint64(b[i]-'0')
		i++
	}
	// 19 digits cannot wrap 64 bits; more are out of any limit here.
	n := i - s.i
	if n == 0 || n > 19 || v > limit || b[s.i] == '0' && n > 1 || i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, errNotSimple
	}
	s.i = i
	return v, nil
}

// uint32 decodes a uint32 value; null leaves *dst as it is.
func (s *scanner) uint32(dst *uint32) error {
	if s.null() {
		return nil
	}
	v, err := s.uint(1<<32 - 1)
	if err == nil {
		*dst = uint32(v)
	}
	return err
}

// int decodes an int value; null leaves *dst as it is.
func (s *scanner) int(dst *int) error {
	if s.null() {
		return nil
	}
	neg := s.eat('-')
	v, err := s.uint(1 << 63)
	if err != nil || !neg && v == 1<<63 {
		return errNotSimple
	}
	if neg {
		*dst = int(-v)
	} else {
		*dst = int(v)
	}
	return nil
}

// object reads an object's members in document order: fn decodes the
// value of each member whose name matches one of wanted the way
// encoding/json matches struct fields (exactly, else case-insensitively);
// the others are skipped. A wanted member given twice is errNotSimple.
func (s *scanner) object(wanted []string, fn func(name string) error) error {
	if !s.eat('{') {
		return errNotSimple
	}
	if s.depth++; s.depth > maxDepth {
		return errNotSimple
	}
	defer func() { s.depth-- }()
	var seen uint64
	s.ws()
	if s.eat('}') {
		return nil
	}
	for {
		s.ws()
		key, err := s.key()
		if err != nil {
			return err
		}
		s.ws()
		if !s.eat(':') {
			return errNotSimple
		}
		s.ws()
		if w, ok := match(key, wanted); ok {
			if seen&(1<<w) != 0 {
				return errNotSimple
			}
			seen |= 1 << w
			err = fn(wanted[w])
		} else {
			err = s.skip()
		}
		if err != nil {
			return err
		}
		s.ws()
		if s.eat('}') {
			return nil
		}
		if !s.eat(',') {
			return errNotSimple
		}
	}
}

// array reads an array's elements, each with elem; empty says there were
// none (encoding/json then gives an empty slice, not nil).
func (s *scanner) array(elem func() error) (empty bool, _ error) {
	if !s.eat('[') {
		return false, errNotSimple
	}
	if s.depth++; s.depth > maxDepth {
		return false, errNotSimple
	}
	defer func() { s.depth-- }()
	s.ws()
	if s.eat(']') {
		return true, nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return false, err
		}
		s.ws()
		if s.eat(']') {
			return false, nil
		}
		if !s.eat(',') {
			return false, errNotSimple
		}
	}
}

// match finds key among wanted as encoding/json matches a field name.
func match(key string, wanted []string) (int, bool) {
	for i, w := range wanted {
		if key == w {
			return i, true
		}
	}
	for i, w := range wanted {
		if strings.EqualFold(key, w) {
			return i, true
		}
	}
	return 0, false
}

// skip passes over one value.
func (s *scanner) skip() error {
	if s.i >= len(s.b) {
		return errNotSimple
	}
	switch s.b[s.i] {
	case '"':
		_, err := s.str()
		return err
	case '{':
		if s.depth++; s.depth > maxDepth {
			return errNotSimple
		}
		s.i++
		s.ws()
		if !s.eat('}') {
			for {
				s.ws()
				if _, err := s.str(); err != nil {
					return err
				}
				s.ws()
				if !s.eat(':') {
					return errNotSimple
				}
				s.ws()
				if err := s.skip(); err != nil {
					return err
				}
				s.ws()
				if s.eat('}') {
					break
				}
				if !s.eat(',') {
					return errNotSimple
				}
			}
		}
		s.depth--
		return nil
	case '[':
		if s.depth++; s.depth > maxDepth {
			return errNotSimple
		}
		s.i++
		s.ws()
		if !s.eat(']') {
			for {
				s.ws()
				if err := s.skip(); err != nil {
					return err
				}
				s.ws()
				if s.eat(']') {
					break
				}
				if !s.eat(',') {
					return errNotSimple
				}
			}
		}
		s.depth--
		return nil
	case 't':
		return s.word("true")
	case 'f':
		return s.word("false")
	case 'n':
		return s.word("null")
	default:
		if !s.number() || s.i < len(s.b) && !isDelim(s.b[s.i]) {
			return errNotSimple
		}
		return nil
	}
}

// escapeLen is the length of the escape that b begins with (what follows
// a backslash), 0 for none JSON allows.
func escapeLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if len(b) < 5 {
			return 0
		}
		for _, c := range b[1:5] {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return 0
			}
		}
		return 5
	}
	return 0
}

// number passes over a number in JSON's form:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	digits := func() bool {
		start := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		return s.i > start
	}
	s.eat('-')
	if !s.eat('0') && (s.i >= len(s.b) || s.b[s.i] < '1' || s.b[s.i] > '9' || !digits()) {
		return false
	}
	if s.eat('.') && !digits() {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		return digits()
	}
	return true
}

func (s *scanner) word(w string) error {
	if !s.lit(w) {
		return errNotSimple
	}
	return nil
}
