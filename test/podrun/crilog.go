package podrun

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// ParseCRILog reads a container log in the CRI format the runtime (conmon)
// writes, one entry per line: "TIMESTAMP STREAM TAGS CONTENT", where TAGS
// starts with P for a partial line (continued by the next entry of the same
// stream) or F for a full one. It returns the content lines, partial entries
// joined, stdout and stderr interleaved in the order the lines completed, as
// the kubelet's logs.ReadLogs presents them.
func ParseCRILog(r io.Reader) ([]string, error) {
	var lines []string
	pending := map[string]*strings.Builder{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		entry := sc.Bytes()
		if len(bytes.TrimSpace(entry)) == 0 {
			continue
		}
		stream, tags, content, err := splitCRILogEntry(entry)
		if err != nil {
			return lines, fmt.Errorf("CRI log line %d: %w", n, err)
		}
		b := pending[stream]
		if b == nil {
			b = &strings.Builder{}
			pending[stream] = b
		}
		b.Write(content)
		if tag, _, _ := strings.Cut(tags, ":"); tag == "P" {
			continue
		}
		lines = append(lines, b.String())
		b.Reset()
	}
	if err := sc.Err(); err != nil {
		return lines, fmt.Errorf("reading CRI log: %w", err)
	}
	// A partial line with no end yet (the container is still writing it).
	for _, stream := range []string{"stdout", "stderr"} {
		if b := pending[stream]; b != nil && b.Len() > 0 {
			lines = append(lines, b.String())
		}
	}
	return lines, nil
}

func splitCRILogEntry(entry []byte) (stream, tags string, content []byte, err error) {
	fields := bytes.SplitN(entry, []byte(" "), 4)
	if len(fields) < 3 {
		return "", "", nil, fmt.Errorf("%q: want TIMESTAMP STREAM TAGS CONTENT", entry)
	}
	stream = string(fields[1])
	if stream != "stdout" && stream != "stderr" {
		return "", "", nil, fmt.Errorf("%q: unknown stream %q", entry, stream)
	}
	if len(fields) == 4 {
		content = fields[3]
	}
	return stream, string(fields[2]), content, nil
}

// ReadCRILog parses the log file at path; a file that does not exist (a
// container that never started) is an empty log.
func ReadCRILog(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCRILog(f)
}
