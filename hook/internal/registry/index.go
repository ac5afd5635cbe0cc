package registry

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crio-userns/crio-userns/hook/internal/nsfs"
	"github.com/crio-userns/crio-userns/internal/idmap"
)

// The index file, little-endian:
//
//	header  magic[8] "CUNSIDX\x00", version u32, namespaces u32,
//	        uid spans u32, gid spans u32, pods u32, reserved u32
//	ns      namespaces x {dev u64, ino u64, namespace hash u64}, sorted by (dev, ino)
//	spans   uid spans x {first u32, last u32, max last so far u32, ref u32},
//	        then gid spans, each sorted by (first, last); ref is the
//	        namespace's record number, bit 31 set for a single-ID root
//	        extent ("0 H 1")
//	pods    pods x {pod key hash u64, namespace record u32, reserved u32},
//	        sorted by hash
//	sum     checksum of everything before it (see checksum)
//
// Fixed-size records, so a lookup binary-searches the bytes in place.
const (
	indexMagic   = "CUNSIDX\x00"
	indexVersion = 3
	headerSize   = 32
	nsSize       = 24
	spanSize     = 16
	podSize      = 16
	rootBit      = 1 << 31
)

// maxSpans bounds the spans one namespace puts in the index per side: a
// map of 340 scattered extents becomes 4 spans covering them, and the
// exact comparison reads the entry.
const maxSpans = 4

var le = binary.LittleEndian

// errIndex marks an index to rebuild rather than trust.
var errIndex = errors.New("index unusable")

// index is a parsed view of an index file's bytes.
type index struct {
	data          []byte
	nNS, nPod     int
	nSpan         [2]int
	offSpan       [2]int
	offNS, offPod int
}

func parseIndex(data []byte) (*index, error) {
	if len(data) < headerSize+4 || string(data[:8]) != indexMagic {
		return nil, fmt.Errorf("%w: not an index", errIndex)
	}
	if v := le.Uint32(data[8:]); v != indexVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errIndex, v, indexVersion)
	}
	body := data[:len(data)-4]
	if checksum(body) != le.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errIndex)
	}
	return layoutIndex(body)
}

// layoutIndex reads the record counts of an index body whose header and
// checksum are good, and checks that they fit its size.
func layoutIndex(body []byte) (*index, error) {
	ix := &index{data: body}
	ix.nNS = int(le.Uint32(body[12:]))
	ix.nSpan[0] = int(le.Uint32(body[16:]))
	ix.nSpan[1] = int(le.Uint32(body[20:]))
	ix.nPod = int(le.Uint32(body[24:]))
	ix.offNS = headerSize
	ix.offSpan[0] = ix.offNS + ix.nNS*nsSize
	ix.offSpan[1] = ix.offSpan[0] + ix.nSpan[0]*spanSize
	ix.offPod = ix.offSpan[1] + ix.nSpan[1]*spanSize
	if want := ix.offPod + ix.nPod*podSize; want != len(body) || ix.nNS > len(body) || ix.nPod > len(body) {
		return nil, fmt.Errorf("%w: %d bytes, the header says %d", errIndex, len(body), want)
	}
	return ix, nil
}

type nsRec struct {
	id     nsfs.ID
	nsHash uint64 // of the pod's Kubernetes namespace, 0 for none
}

type span struct {
	first, last, maxLast uint32
	ns                   int
	root                 bool
}

type podRec struct {
	hash uint64
	ns   int
}

func (ix *index) ns(i int) nsRec {
	b := ix.data[ix.offNS+i*nsSize:]
	return nsRec{id: nsfs.ID{Dev: le.Uint64(b), Ino: le.Uint64(b[8:])}, nsHash: le.Uint64(b[16:])}
}

func (ix *index) span(side, i int) span {
	b := ix.data[ix.offSpan[side]+i*spanSize:]
	ref := le.Uint32(b[12:])
	return span{first: le.Uint32(b), last: le.Uint32(b[4:]), maxLast: le.Uint32(b[8:]), ns: int(ref &^ rootBit), root: ref&rootBit != 0}
}

func (ix *index) pod(i int) podRec {
	b := ix.data[ix.offPod+i*podSize:]
	return podRec{hash: le.Uint64(b), ns: int(le.Uint32(b[8:]))}
}

// findNS returns the record number of id.
func (ix *index) findNS(id nsfs.ID) (int, bool) {
	lo, hi := 0, ix.nNS
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		r := ix.ns(m).id
		if cmp.Or(cmp.Compare(r.Dev, id.Dev), cmp.Compare(r.Ino, id.Ino)) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < ix.nNS && ix.ns(lo).id == id {
		return lo, true
	}
	return 0, false
}

// overlapping calls fn for every span of side that shares an ID with
// [first, last]: the last span starting at or before last is found by
// search, and the walk towards lower starts stops where no earlier span
// reaches first (the running maximum of last IDs says so). hint is the
// value a previous call returned (0 for none): a map's extents come in
// ascending order as a rule, and each search then starts next to the
// previous answer, a few steps for each of 340 extents.
func (ix *index) overlapping(side int, first, last uint32, hint int, fn func(span)) int {
	lo := ix.startingBy(side, last, hint)
	for i := lo - 1; i >= 0; i-- {
		s := ix.span(side, i)
		if s.maxLast < first {
			break
		}
		if s.last >= first {
			fn(s)
		}
	}
	return lo
}

// clearAround reports, from the two records around position lo (between
// 0 and the span count), that no span of side shares an ID with [first,
// last]: the spans from lo on start after last (they are sorted by first
// ID), and those before lo end before first (their running maximum of last
// IDs says so). With lo from the extent before, it is overlapping's answer
// for most extents of a map, without a search or a call.
func (ix *index) clearAround(side, lo int, first, last uint32) bool {
	n := ix.nSpan[side]
	if lo < 0 || lo > n {
		return false
	}
	off := ix.offSpan[side]
	if lo < n && le.Uint32(ix.data[off+lo*spanSize:]) <= last {
		return false
	}
	return lo == 0 || le.Uint32(ix.data[off+(lo-1)*spanSize+8:]) < first
}

// startingBy returns how many spans of side start at or before id (they
// come first: spans are sorted by first ID), galloping from hint towards
// the answer, then bisecting.
func (ix *index) startingBy(side int, id uint32, hint int) int {
	n := ix.nSpan[side]
	starts := func(i int) bool { return le.Uint32(ix.data[ix.offSpan[side]+i*spanSize:]) <= id }
	// The answer lies in [lo, hi]: spans before lo start by id, spans
	// from hi on start after it.
	lo, hi := 0, n
	hint = min(max(hint, 0), n)
	if hint < n && starts(hint) {
		lo = hint + 1
		for step := 1; hint+step < n; step *= 2 {
			if !starts(hint + step) {
				hi = hint + step
				break
			}
			lo = hint + step + 1
		}
	} else {
		hi = hint
		for step := 1; hint-step >= 0; step *= 2 {
			if starts(hint - step) {
				lo = hint - step + 1
				break
			}
			hi = hint - step
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if starts(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// podNS returns the record number of the namespace registered for the pod
// whose key hashes to h.
func (ix *index) podNS(h uint64) (int, bool) {
	lo, hi := 0, ix.nPod
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ix.pod(m).hash < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < ix.nPod && ix.pod(lo).hash == h {
		return ix.pod(lo).ns, true
	}
	return 0, false
}

// indexData is an index decoded for change: done only when a namespace is
// added or removed. Its slices stay sorted as in the file, so that a change
// is a linear pass, not a sort.
type indexData struct {
	ns    []nsRec   // by (dev, ino)
	spans [2][]span // by (first, last)
	pods  []podRec  // by hash
}

func (ix *index) decode() *indexData {
	d := &indexData{ns: make([]nsRec, ix.nNS), pods: make([]podRec, ix.nPod)}
	for i := range d.ns {
		d.ns[i] = ix.ns(i)
	}
	for side := range 2 {
		d.spans[side] = make([]span, ix.nSpan[side], ix.nSpan[side]+2*maxSpans)
		for i := range d.spans[side] {
			d.spans[side][i] = ix.span(side, i)
		}
	}
	for i := range d.pods {
		d.pods[i] = ix.pod(i)
	}
	return d
}

func cmpID(a, b nsfs.ID) int { return cmp.Or(cmp.Compare(a.Dev, b.Dev), cmp.Compare(a.Ino, b.Ino)) }

func cmpSpan(a, b span) int {
	return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.last, b.last))
}

// renumber shifts the namespace references at or after from by delta,
// dropping those to gone (when gone >= 0).
func (d *indexData) renumber(from, delta, gone int) {
	for side := range 2 {
		if gone >= 0 {
			d.spans[side] = slices.DeleteFunc(d.spans[side], func(s span) bool { return s.ns == gone })
		}
		for j := range d.spans[side] {
			if d.spans[side][j].ns >= from {
				d.spans[side][j].ns += delta
			}
		}
	}
	if gone >= 0 {
		d.pods = slices.DeleteFunc(d.pods, func(p podRec) bool { return p.ns == gone })
	}
	for j := range d.pods {
		if d.pods[j].ns >= from {
			d.pods[j].ns += delta
		}
	}
}

// add puts e's namespace into d; the pod's record now names it.
func (d *indexData) add(e *Entry) {
	d.remove(e.NS)
	pos, _ := slices.BinarySearchFunc(d.ns, e.NS, func(r nsRec, id nsfs.ID) int { return cmpID(r.id, id) })
	d.renumber(pos, 1, -1)
	d.ns = slices.Insert(d.ns, pos, nsRec{id: e.NS, nsHash: hashString(e.Namespace)})
	for side, maps := range [2][]rspec.LinuxIDMapping{e.UIDMaps, e.GIDMaps} {
		for _, s := range spansOf(maps) {
			s.ns = pos
			at, _ := slices.BinarySearchFunc(d.spans[side], s, cmpSpan)
			d.spans[side] = slices.Insert(d.spans[side], at, s)
		}
	}
	if e.PodKey != "" {
		h := hashString(e.PodKey)
		at, found := slices.BinarySearchFunc(d.pods, h, func(p podRec, h uint64) int { return cmp.Compare(p.hash, h) })
		if found {
			d.pods[at].ns = pos
		} else {
			d.pods = slices.Insert(d.pods, at, podRec{hash: h, ns: pos})
		}
	}
}

// remove drops id's namespace, its spans and its pod.
func (d *indexData) remove(id nsfs.ID) {
	i, found := slices.BinarySearchFunc(d.ns, id, func(r nsRec, id nsfs.ID) int { return cmpID(r.id, id) })
	if !found {
		return
	}
	d.ns = slices.Delete(d.ns, i, i+1)
	d.renumber(i+1, -1, i)
}

// encode renders d as an index file.
func (d *indexData) encode() []byte {
	n := headerSize + len(d.ns)*nsSize + (len(d.spans[0])+len(d.spans[1]))*spanSize + len(d.pods)*podSize
	b := make([]byte, 0, n+4)
	b = append(b, indexMagic...)
	b = le.AppendUint32(b, indexVersion)
	b = le.AppendUint32(b, uint32(len(d.ns)))
	b = le.AppendUint32(b, uint32(len(d.spans[0])))
	b = le.AppendUint32(b, uint32(len(d.spans[1])))
	b = le.AppendUint32(b, uint32(len(d.pods)))
	b = le.AppendUint32(b, 0)
	for _, r := range d.ns {
		b = le.AppendUint64(b, r.id.Dev)
		b = le.AppendUint64(b, r.id.Ino)
		b = le.AppendUint64(b, r.nsHash)
	}
	for side := range 2 {
		var maxLast uint32
		for _, s := range d.spans[side] {
			maxLast = max(maxLast, s.last)
			ref := uint32(s.ns)
			if s.root {
				ref |= rootBit
			}
			b = le.AppendUint32(b, s.first)
			b = le.AppendUint32(b, s.last)
			b = le.AppendUint32(b, maxLast)
			b = le.AppendUint32(b, ref)
		}
	}
	for _, p := range d.pods {
		b = le.AppendUint64(b, p.hash)
		b = le.AppendUint32(b, uint32(p.ns))
		b = le.AppendUint32(b, 0)
	}
	return le.AppendUint32(b, checksum(b))
}

// spansOf is a map's host side for the index: its extents' host ranges
// merged, then the narrowest gaps closed until at most maxSpans remain. A
// span that is exactly one single-ID root extent ("0 H 1") is marked, so
// that pods of one project sharing their root ID need not read each other's
// entries.
func spansOf(maps []rspec.LinuxIDMapping) []span {
	rs := make([]idmap.Range, 0, len(maps))
	roots := map[uint32]bool{}
	for _, m := range maps {
		if m.Size == 0 {
			continue
		}
		rs = append(rs, idmap.HostRange(m))
		if m.ContainerID == 0 && m.Size == 1 {
			roots[m.HostID] = true
		}
	}
	rs = idmap.MergeRanges(rs)
	if len(rs) > maxSpans {
		// Keep the maxSpans-1 widest gaps (of equal ones, the first), close
		// the others. Gap i lies between rs[i] and rs[i+1].
		width := func(i int) uint32 { return rs[i+1].First - rs[i].Last }
		keep := make([]int, 0, maxSpans) // widest first
		for i := range len(rs) - 1 {
			at := len(keep)
			for at > 0 && width(i) > width(keep[at-1]) {
				at--
			}
			if at < maxSpans-1 {
				keep = slices.Insert(keep, at, i)[:min(len(keep)+1, maxSpans-1)]
			}
		}
		slices.Sort(keep)
		merged := make([]idmap.Range, 0, maxSpans)
		start := 0
		for _, g := range keep {
			merged = append(merged, idmap.Range{First: rs[start].First, Last: rs[g].Last})
			start = g + 1
		}
		rs = append(merged, idmap.Range{First: rs[start].First, Last: rs[len(rs)-1].Last})
	}
	out := make([]span, len(rs))
	for i, r := range rs {
		out[i] = span{first: r.First, last: r.Last, root: r.First == r.Last && roots[r.First]}
	}
	return out
}

func hashString(s string) uint64 {
	if s == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// checksum is the index's checksum, against damage (a partial copy, a
// stray write): the bytes 8 at a time, each word mixed into one of four
// lanes by a multiply-xorshift step, then the lanes into one (each step
// bijective in the word and in the state, so any change of one word
// changes the sum, and the chance that damage goes unseen is that of a
// 32-bit collision). Every pod's first container sums the index twice, the one it
// reads and the one it writes, tens of KiB at 250 pods: this costs about
// one instruction per byte and nothing at start-up, where
// Adler-32 costs five per byte (a quarter of the hook's own instructions at
// 250 pods) and hash/crc32 builds tables on every start (an 8 KiB one for
// CRC-32, 60,000 instructions; 1.5 MiB of summing for CRC-32C's).
func checksum(b []byte) uint32 {
	const m = 0x9e3779b97f4a7c15 // odd: multiplying by it is a bijection
	// Four lanes, so that the multiplications of one word need not wait
	// for those of the word before; each step (h^w)*m, then h^h>>32,
	// written out (mix's), as the loop runs for every 8 bytes of tens of
	// KiB.
	h0 := (m ^ uint64(len(b))) * m
	h0 ^= h0 >> 32
	h1, h2, h3 := uint64(1), uint64(2), uint64(3)
	full := len(b) &^ 31
	for i := 0; i < full; i += 32 {
		w := b[i : i+32 : i+32]
		h0 = (h0 ^ le.Uint64(w)) * m
		h1 = (h1 ^ le.Uint64(w[8:])) * m
		h2 = (h2 ^ le.Uint64(w[16:])) * m
		h3 = (h3 ^ le.Uint64(w[24:])) * m
		h0 ^= h0 >> 32
		h1 ^= h1 >> 32
		h2 ^= h2 >> 32
		h3 ^= h3 >> 32
	}
	b = b[full:]
	mix := func(h, w uint64) uint64 {
		h = (h ^ w) * m
		return h ^ h>>32
	}
	for ; len(b) >= 8; b = b[8:] {
		h0 = mix(h0, le.Uint64(b))
	}
	var tail [8]byte
	copy(tail[:], b)
	return uint32(mix(mix(mix(mix(h0, le.Uint64(tail[:])), h1), h2), h3))
}

// withAdded returns ix's bytes with e's namespace added, in one pass over
// the records and without decoding them: what a pod's first container
// costs. The record tables are copied in bulk around the new records, and
// only the fields that change are rewritten in place: references to
// namespaces after the new one, and running maxima the new spans raise.
// It reports false when e's namespace is in ix already (the caller then
// replaces it by decoding).
func (ix *index) withAdded(e *Entry) ([]byte, bool) {
	if _, ok := ix.findNS(e.NS); ok {
		return nil, false
	}
	p := sort.Search(ix.nNS, func(i int) bool { return cmpID(ix.ns(i).id, e.NS) > 0 })
	var added [2][]span
	added[0] = spansOf(e.UIDMaps) // sorted by first, disjoint
	added[1] = added[0]
	if !slices.Equal(e.GIDMaps, e.UIDMaps) { // as a rule they are
		added[1] = spansOf(e.GIDMaps)
	}
	podHash := hashString(e.PodKey)
	podAt, podFound := 0, false
	if e.PodKey != "" {
		podAt = sort.Search(ix.nPod, func(i int) bool { return ix.pod(i).hash >= podHash })
		podFound = podAt < ix.nPod && ix.pod(podAt).hash == podHash
	}
	nPod := ix.nPod
	if e.PodKey != "" && !podFound {
		nPod++
	}
	nSpan := [2]int{ix.nSpan[0] + len(added[0]), ix.nSpan[1] + len(added[1])}

	b := make([]byte, headerSize, headerSize+(ix.nNS+1)*nsSize+(nSpan[0]+nSpan[1])*spanSize+nPod*podSize+4)
	copy(b, indexMagic)
	le.PutUint32(b[8:], indexVersion)
	le.PutUint32(b[12:], uint32(ix.nNS+1))
	le.PutUint32(b[16:], uint32(nSpan[0]))
	le.PutUint32(b[20:], uint32(nSpan[1]))
	le.PutUint32(b[24:], uint32(nPod))
	le.PutUint32(b[28:], 0)
	nsTable := ix.data[ix.offNS : ix.offNS+ix.nNS*nsSize]
	b = append(b, nsTable[:p*nsSize]...)
	b = le.AppendUint64(b, e.NS.Dev)
	b = le.AppendUint64(b, e.NS.Ino)
	b = le.AppendUint64(b, hashString(e.Namespace))
	b = append(b, nsTable[p*nsSize:]...)
	for side := range 2 {
		old := ix.data[ix.offSpan[side] : ix.offSpan[side]+ix.nSpan[side]*spanSize]
		// raised is the largest last ID of the new spans so far (the
		// running maximum of every record after them is at least that),
		// run the running maximum of the records written.
		var raised, run uint32
		from := 0 // old records copied so far
		for k := 0; k <= len(added[side]); k++ {
			to := ix.nSpan[side]
			if k < len(added[side]) {
				s := added[side][k]
				to = from + sort.Search(to-from, func(i int) bool {
					rec := old[(from+i)*spanSize:]
					return cmpSpan(s, span{first: le.Uint32(rec), last: le.Uint32(rec[4:])}) <= 0
				})
			}
			at := len(b)
			b = append(b, old[from*spanSize:to*spanSize]...)
			for rec := b[at:]; len(rec) >= spanSize; rec = rec[spanSize:] {
				m := le.Uint32(rec[8:])
				if m >= raised && p == ix.nNS {
					// Nothing left to rewrite: the running maxima only
					// grow, and no reference reaches the new namespace's
					// number (the last, as new namespaces' inode numbers
					// come as a rule).
					break
				}
				if m < raised {
					le.PutUint32(rec[8:], raised)
				}
				if ref := le.Uint32(rec[12:]); int(ref&^rootBit) >= p {
					le.PutUint32(rec[12:], ref+1)
				}
			}
			if len(b) > at {
				run = max(run, raised, le.Uint32(b[len(b)-spanSize+8:]))
			}
			from = to
			if k == len(added[side]) {
				break
			}
			s := added[side][k]
			run = max(run, s.last)
			raised = max(raised, s.last)
			b = le.AppendUint32(b, s.first)
			b = le.AppendUint32(b, s.last)
			b = le.AppendUint32(b, run)
			b = le.AppendUint32(b, spanRef(p, s.root))
		}
	}
	at := len(b)
	oldPods := ix.data[ix.offPod : ix.offPod+ix.nPod*podSize]
	insert := e.PodKey != "" && !podFound
	if insert {
		b = append(b, oldPods[:podAt*podSize]...)
		b = le.AppendUint64(b, podHash)
		b = le.AppendUint32(b, uint32(p))
		b = le.AppendUint32(b, 0)
		b = append(b, oldPods[podAt*podSize:]...)
	} else {
		b = append(b, oldPods...)
	}
	for i, rec := 0, b[at:]; len(rec) >= podSize; i, rec = i+1, rec[podSize:] {
		switch {
		case insert && i == podAt:
		case podFound && i == podAt:
			le.PutUint32(rec[8:], uint32(p))
		default:
			if ref := le.Uint32(rec[8:]); int(ref) >= p {
				le.PutUint32(rec[8:], ref+1)
			}
		}
	}
	return le.AppendUint32(b, checksum(b)), true
}

func spanRef(ns int, root bool) uint32 {
	ref := uint32(ns)
	if root {
		ref |= rootBit
	}
	return ref
}
