package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sampleStatus = "Name:\tusernstest\nUmask:\t0022\nState:\tS (sleeping)\n" +
	"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t0 \n" +
	"CapInh:\t0000000000000000\nCapPrm:\t000000000000051b\nCapEff:\t000000000000051b\n" +
	"CapBnd:\t000000000000051b\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n"

func TestStatusLines(t *testing.T) {
	got, err := StatusLines(strings.NewReader(sampleStatus), StatusKeys)
	if err != nil {
		t.Fatal(err)
	}
	// Verbatim and in the file's order, not the keys' order.
	want := []string{"Uid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0", "CapEff:\t000000000000051b", "CapBnd:\t000000000000051b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWriteProcInfo(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"uid_map": "         1     200000      65535\n         0 1000650000          1\n",
		"gid_map": "         0     200000      65536\n",
		"status":  sampleStatus,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	writeProcInfo(&b, dir)
	want := "--- uid_map\n" + files["uid_map"] + "--- gid_map\n" + files["gid_map"] +
		"--- status\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t000000000000051b\nCapBnd:\t000000000000051b\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	// A missing file is reported in its section; the report goes on.
	os.Remove(filepath.Join(dir, "gid_map"))
	b.Reset()
	writeProcInfo(&b, dir)
	if !strings.Contains(b.String(), "--- gid_map\nerror: ") || !strings.Contains(b.String(), "--- status\nUid:") {
		t.Errorf("missing gid_map not reported in place:\n%s", b.String())
	}
}
