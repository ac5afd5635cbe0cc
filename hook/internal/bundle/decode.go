package bundle

// The fast paths of decodeNarrow and ReadState: one pass of the scanner
// over the document, decoding each member the hook reads where it stands,
// into what encoding/json would make of it. Each decoder handles null as
// encoding/json does: a pointer, slice or map becomes nil, a string,
// number or struct is left as it is.

func decodeNarrowFast(data []byte, n *narrowSpec) error {
	s := &scanner{b: data}
	s.ws()
	err := s.object([]string{"process", "root", "mounts", "annotations", "linux"}, func(name string) error {
		switch name {
		case "process":
			return pointer(s, &n.Process, s.process)
		case "root":
			return pointer(s, &n.Root, func(r *narrowRoot) error {
				return s.object([]string{"path"}, func(string) error { return s.string(&r.Path) })
			})
		case "mounts":
			return slice(s, &n.Mounts, s.mount)
		case "annotations":
			return s.stringMap(&n.Annotations)
		default:
			return pointer(s, &n.Linux, s.linux)
		}
	})
	if err != nil {
		return err
	}
	return s.end()
}

func (s *scanner) process(p *narrowProcess) error {
	return s.object([]string{"user", "capabilities"}, func(name string) error {
		if name == "capabilities" {
			return pointer(s, &p.Capabilities, func(c *narrowCapabilities) error {
				return s.object([]string{"bounding"}, func(string) error { return slice(s, &c.Bounding, s.string) })
			})
		}
		if s.null() {
			return nil
		}
		u := &p.User
		return s.object([]string{"uid", "gid", "additionalGids"}, func(name string) error {
			switch name {
			case "uid":
				return s.uint32(&u.UID)
			case "gid":
				return s.uint32(&u.GID)
			default:
				return slice(s, &u.AdditionalGids, s.uint32)
			}
		})
	})
}

func (s *scanner) mount(m *narrowMount) error {
	if s.null() {
		return nil
	}
	return s.object([]string{"destination", "type", "source", "options"}, func(name string) error {
		switch name {
		case "destination":
			return s.string(&m.Destination)
		case "type":
			return s.string(&m.Type)
		case "source":
			return s.string(&m.Source)
		default:
			return slice(s, &m.Options, s.string)
		}
	})
}

func (s *scanner) linux(l *narrowLinux) error {
	var last mapText
	return s.object([]string{"namespaces", "uidMappings", "gidMappings"}, func(name string) error {
		switch name {
		case "namespaces":
			return slice(s, &l.Namespaces, func(ns *narrowNamespace) error {
				if s.null() {
					return nil
				}
				return s.object([]string{"type", "path"}, func(name string) error {
					if name == "type" {
						return s.string(&ns.Type)
					}
					return s.string(&ns.Path)
				})
			})
		case "uidMappings":
			return s.idMappingsAgain(&l.UIDMappings, &last)
		default:
			return s.idMappingsAgain(&l.GIDMappings, &last)
		}
	})
}

// stringMap decodes a map[string]string: null is nil, a member given twice
// keeps its last value, and a null value is "".
func (s *scanner) stringMap(dst *map[string]string) error {
	if s.null() {
		*dst = nil
		return nil
	}
	if !s.eat('{') {
		return errNotSimple
	}
	if s.depth++; s.depth > maxDepth {
		return errNotSimple
	}
	m := map[string]string{}
	s.ws()
	if !s.eat('}') {
		for {
			s.ws()
			k, err := s.key()
			if err != nil {
				return err
			}
			s.ws()
			if !s.eat(':') {
				return errNotSimple
			}
			s.ws()
			var v string
			if err := s.string(&v); err != nil {
				return err
			}
			m[k] = v
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
	*dst = m
	return nil
}

// pointer decodes a pointer to a struct: null is nil, an object fills a
// new struct with fill.
func pointer[T any](s *scanner, dst **T, fill func(*T) error) error {
	if s.null() {
		*dst = nil
		return nil
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return errNotSimple
	}
	v := new(T)
	*dst = v
	return fill(v)
}

// slice decodes an array with elem for each element: null is nil, [] an
// empty slice.
func slice[T any](s *scanner, dst *[]T, elem func(*T) error) error {
	if s.null() {
		*dst = nil
		return nil
	}
	var out []T
	empty, err := s.array(func() error {
		var v T
		if err := elem(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return err
	}
	if empty {
		out = []T{}
	}
	*dst = out
	return nil
}

// decodeStateFast decodes the OCI state into n.
func decodeStateFast(data []byte, n *state) error {
	s := &scanner{b: data}
	s.ws()
	err := s.object([]string{"id", "status", "pid", "bundle", "annotations"}, func(name string) error {
		switch name {
		case "id":
			return s.string(&n.ID)
		case "status":
			return s.string(&n.Status)
		case "pid":
			return s.int(&n.Pid)
		case "bundle":
			return s.string(&n.Bundle)
		default:
			return s.stringMap(&n.Annotations)
		}
	})
	if err != nil {
		return err
	}
	return s.end()
}
