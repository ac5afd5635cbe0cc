package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// idMappings decodes linux.uidMappings or gidMappings. A map may have 340
// extents, and encoding/json's reflection costs about a microsecond per
// extent, per container start; the form runtimes write,
// [{"containerID":0,"hostID":200000,"size":65536},...], is read here
// directly. Anything else (other key order or case, duplicate keys, other
// number forms, null) goes to encoding/json, so that the result is always
// encoding/json's, which is what runc and crun read too.
type idMappings []rspec.LinuxIDMapping

func (m *idMappings) UnmarshalJSON(data []byte) error {
	if out, ok := fastIDMappings(data); ok {
		*m = out
		return nil
	}
	var std []rspec.LinuxIDMapping
	if err := json.Unmarshal(data, &std); err != nil {
		return err
	}
	*m = std
	return nil
}

// fastIDMappings reads the canonical form; ok is false for anything else.
func fastIDMappings(b []byte) (out []rspec.LinuxIDMapping, ok bool) {
	s := scanner{b: b}
	s.ws()
	if out, ok = s.canonicalIDMappings(); !ok || s.end() != nil {
		return nil, false
	}
	return out, true
}

// idMappings decodes an ID map value where it stands: the canonical form
// directly, anything else through encoding/json.
func (s *scanner) idMappings(dst *idMappings) error {
	start := s.i
	if out, ok := s.canonicalIDMappings(); ok {
		*dst = out
		return nil
	}
	s.i = start
	if err := s.skip(); err != nil {
		return err
	}
	if json.Unmarshal(s.b[start:s.i], dst) != nil {
		return errNotSimple
	}
	return nil
}

// mapText is an ID map value's text and what it decoded to.
type mapText struct {
	text []byte
	maps idMappings
}

// idMappingsAgain is idMappings for the second map of a document: a pod's
// uid and gid maps are the same as a rule, 340 extents each at most, and
// when the value's text is the last one's, its result is taken (a copy:
// callers own their maps) instead of decoding it again. An array's text
// ends where the array closes, so a value that begins with the whole text
// of another array is that array.
func (s *scanner) idMappingsAgain(dst *idMappings, last *mapText) error {
	if len(last.text) > 0 && bytes.HasPrefix(s.b[s.i:], last.text) {
		s.i += len(last.text)
		*dst = slices.Clone(last.maps)
		return nil
	}
	start := s.i
	if err := s.idMappings(dst); err != nil {
		return err
	}
	if s.b[start] == '[' {
		*last = mapText{text: s.b[start:s.i], maps: *dst}
	}
	return nil
}

// canonicalIDMappings reads an ID map in the canonical form at s.i and
// leaves s.i after it; ok is false (s.i anywhere) for anything else.
func (s *scanner) canonicalIDMappings() (out []rspec.LinuxIDMapping, ok bool) {
	if !s.eat('[') {
		return nil, false
	}
	s.ws()
	if s.eat(']') {
		return []rspec.LinuxIDMapping{}, true
	}
	// The canonical form holds no ']' before its end: the extents are the
	// '{' up to there. Sized at once, a 340-extent map's slice is not
	// grown nine times (three pages of memory cleared, then dropped).
	if end := bytes.IndexByte(s.b[s.i:], ']'); end > 0 {
		out = make([]rspec.LinuxIDMapping, 0, bytes.Count(s.b[s.i:s.i+end], []byte{'{'}))
	}
	for {
		var m rspec.LinuxIDMapping
		// Compact, as runtimes write it, a token at a time; with blanks
		// between the tokens, a member at a time.
		if !s.compact(&m) && (!s.member('{', `"containerID"`, &m.ContainerID) ||
			!s.member(',', `"hostID"`, &m.HostID) ||
			!s.member(',', `"size"`, &m.Size) || !s.close('}')) {
			return nil, false
		}
		out = append(out, m)
		// Compact: a comma and the next extent's brace.
		if s.i+1 < len(s.b) && s.b[s.i] == ',' && s.b[s.i+1] == '{' {
			s.i++
			continue
		}
		s.ws()
		if s.eat(']') {
			return out, true
		}
		if !s.eat(',') {
			return nil, false
		}
		s.ws()
	}
}

// compact reads {"containerID":C,"hostID":H,"size":S} with no blank in
// it, the form runtimes write: its fixed parts compared 8 bytes at a time,
// its numbers digit by digit, in one function (no call per number). When
// it reports false, s.i is where it was.
func (s *scanner) compact(m *rspec.LinuxIDMapping) bool {
	b, i := s.b, s.i
	if len(b)-i < len(`{"containerID":0,"hostID":0,"size":0}`) ||
		le.Uint64(b[i:]) != tokContainerID[0] || le.Uint64(b[i+7:]) != tokContainerID[1] {
		return false
	}
	i += 15
	// Each number is followed by a fixed part, checked next: what ends it
	// cannot be a fraction or an exponent.
	c, i, okC := decimal(b, i)
	if !okC || len(b)-i < 10 || le.Uint64(b[i:]) != tokHostID[0] || le.Uint16(b[i+8:]) != uint16(tokHostID[1]) {
		return false
	}
	h, i, okH := decimal(b, i+10)
	if !okH || len(b)-i < 8 || le.Uint64(b[i:]) != tokSize {
		return false
	}
	n, i, okN := decimal(b, i+8)
	if !okN || i >= len(b) || b[i] != '}' {
		return false
	}
	*m = rspec.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	s.i = i + 1
	return true
}

// decimal reads a uint32 in JSON's integer form at b[i:], without looking
// at what follows it.
func decimal(b []byte, i int) (uint32, int, bool) {
	start := i
	var v uint64
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + uint64(b[i]-'0')
		i++
	}
	// More than 10 digits is past 32 bits (v may have wrapped then).
	n := i - start
	return uint32(v), i, n > 0 && n <= 10 && v <= 1<<32-1 && (b[start] != '0' || n == 1)
}

var le = binary.LittleEndian

// The fixed parts of the compact form as little-endian words:
// {"containerID": as two overlapping ones, ,"hostID": as one and its last
// two bytes, ,"size": as one.
var (
	tokContainerID = [2]uint64{le.Uint64([]byte(`{"contai`)), le.Uint64([]byte(`ainerID":`)[1:])}
	tokHostID      = [2]uint64{le.Uint64([]byte(`,"hostID`)), uint64(le.Uint16([]byte(`":`)))}
	tokSize        = le.Uint64([]byte(`,"size":`))
)

func (s *scanner) num(dst *uint32) bool {
	v, err := s.uint(1<<32 - 1)
	*dst = uint32(v)
	return err == nil
}

func (s *scanner) close(c byte) bool {
	s.ws()
	return s.eat(c)
}

// member reads `<before> "name" : <uint32>`, with blanks between the tokens.
func (s *scanner) member(before byte, name string, dst *uint32) bool {
	s.ws()
	if !s.eat(before) {
		return false
	}
	s.ws()
	if !s.prefix(name) {
		return false
	}
	s.ws()
	if !s.eat(':') {
		return false
	}
	s.ws()
	return s.num(dst)
}

// prefix consumes tok when the input continues with it.
func (s *scanner) prefix(tok string) bool {
	end := s.i + len(tok)
	if end > len(s.b) || string(s.b[s.i:end]) != tok {
		return false
	}
	s.i = end
	return true
}
