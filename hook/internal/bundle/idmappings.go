package bundle

import (
	"encoding/json"
	"math"

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
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	lit := func(s string) bool {
		ws()
		if len(b)-i < len(s) || string(b[i:i+len(s)]) != s {
			return false
		}
		i += len(s)
		return true
	}
	num := func() (uint32, bool) {
		ws()
		start := i
		var v uint64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + uint64(b[i]-'0')
			if v > math.MaxUint32 {
				return 0, false
			}
			i++
		}
		// No digits, or a leading zero of a longer number: not ours.
		if i == start || (b[start] == '0' && i-start > 1) {
			return 0, false
		}
		// A fraction or an exponent follows: encoding/json decides.
		if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
			return 0, false
		}
		return uint32(v), true
	}
	if !lit("[") {
		return nil, false
	}
	out = []rspec.LinuxIDMapping{}
	if lit("]") {
		ws()
		return out, i == len(b)
	}
	for {
		var m rspec.LinuxIDMapping
		for k, key := range []string{`"containerID"`, `"hostID"`, `"size"`} {
			if k == 0 && !lit("{") || k > 0 && !lit(",") || !lit(key) || !lit(":") {
				return nil, false
			}
			v, ok := num()
			if !ok {
				return nil, false
			}
			switch k {
			case 0:
				m.ContainerID = v
			case 1:
				m.HostID = v
			default:
				m.Size = v
			}
		}
		if !lit("}") {
			return nil, false
		}
		out = append(out, m)
		if lit("]") {
			ws()
			return out, i == len(b)
		}
		if !lit(",") {
			return nil, false
		}
	}
}
