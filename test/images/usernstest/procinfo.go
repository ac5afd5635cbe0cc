package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// StatusKeys are the /proc/self/status fields the report shows: who the
// process is and which capabilities it may still use or regain.
var StatusKeys = []string{"Uid", "Gid", "CapBnd", "CapEff"}

// StatusLines returns the lines of a /proc/PID/status text whose field name is
// one of keys, verbatim and in the file's order.
func StatusLines(r io.Reader, keys []string) ([]string, error) {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, _, ok := strings.Cut(sc.Text(), ":")
		if ok && want[name] {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	return out, nil
}

// writeProcInfo prints the identity sections of the report for the process
// whose /proc directory is procDir. A section that cannot be read says so
// in place and the report goes on: the switches are still worth running.
func writeProcInfo(w io.Writer, procDir string) {
	for _, name := range []string{"uid_map", "gid_map"} {
		fmt.Fprintf(w, "--- %s\n", name)
		data, err := os.ReadFile(procDir + "/" + name)
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			continue
		}
		w.Write(data) // verbatim, including the kernel's column padding
	}
	fmt.Fprintln(w, "--- status")
	f, err := os.Open(procDir + "/status")
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
		return
	}
	defer f.Close()
	lines, err := StatusLines(f, StatusKeys)
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
