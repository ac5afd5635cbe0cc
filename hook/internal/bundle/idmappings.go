package bundle

import (
	"encoding/json"

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
// it; when it reports false, s.i is where it was.
func (s *scanner) compact(m *rspec.LinuxIDMapping) bool {
	start := s.i
	if s.prefix(`{"containerID":`) && s.num(&m.ContainerID) &&
		s.prefix(`,"hostID":`) && s.num(&m.HostID) &&
		s.prefix(`,"size":`) && s.num(&m.Size) && s.eat('}') {
		return true
	}
	s.i = start
	return false
}

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
