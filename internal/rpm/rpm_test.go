package rpm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crio-userns/crio-userns/internal/crio"
)

func TestWriteTarGzIsReproducible(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "a", "vendor"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a", "x.go"), []byte("package a\n"), 0o444))
	must(t, os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "a", "vendor", "skip"), []byte("no"), 0o644))
	must(t, os.Symlink("a/x.go", filepath.Join(dir, "link")))
	date := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	keep := func(rel string, _ os.DirEntry) bool { return rel != "a/vendor" }

	one, two := filepath.Join(t.TempDir(), "1.tar.gz"), filepath.Join(t.TempDir(), "2.tar.gz")
	must(t, WriteTarGz(one, dir, "p-1", date, keep))
	// Touch everything: only contents may matter.
	now := time.Now()
	must(t, os.Chtimes(filepath.Join(dir, "a", "x.go"), now, now))
	must(t, WriteTarGz(two, dir, "p-1", date, keep))
	a, _ := os.ReadFile(one)
	b, _ := os.ReadFile(two)
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same tree differ")
	}

	zr, err := gzip.NewReader(bytes.NewReader(a))
	must(t, err)
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got = append(got, h.Name+" "+h.FileInfo().Mode().String()+" "+h.Uname+" "+h.ModTime.UTC().Format(time.RFC3339)+" "+h.Linkname)
	}
	want := []string{
		"p-1/a/ drwxr-xr-x root 2026-01-02T03:04:05Z ",
		"p-1/a/x.go -rw-r--r-- root 2026-01-02T03:04:05Z ",
		"p-1/link Lrwxrwxrwx root 2026-01-02T03:04:05Z a/x.go",
		"p-1/run.sh -rwxr-xr-x root 2026-01-02T03:04:05Z ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const patchText = `From 6ff670110799aa90bd70ea7312e4c9fa41bcce59 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?J=C3=B6rg?= Dev <dev@example.invalid>
Date: Mon, 23 Nov 2026 17:39:58 +0000
Subject: [PATCH 2/3] server: a subject folded over
 two lines, 100% long

body
`

func TestReadPatchAndChangelog(t *testing.T) {
	dir := t.TempDir()
	p1 := filepath.Join(dir, "0001-a.patch")
	p2 := filepath.Join(dir, "0002-b.patch")
	must(t, os.WriteFile(p1, []byte(strings.Replace(patchText, "23 Nov", "20 Nov", 1)), 0o644))
	must(t, os.WriteFile(p2, []byte(patchText), 0o644))
	p, err := ReadPatch(p2)
	must(t, err)
	if p.Subject != "server: a subject folded over two lines, 100% long" || p.From != "Jörg Dev <dev@example.invalid>" {
		t.Errorf("patch = %+v", p)
	}
	log, err := CrioChangelog(&crio.Series{Version: "v1.2.3", Patches: []string{p1, p2}}, "abc", []string{"example.com/m@v1.0.0 => v1.0.1"})
	must(t, err)
	if want := "- go.mod: example.com/m@v1.0.0 => v1.0.1 in %%prep and vendor/\n"; !strings.Contains(log, want) {
		t.Errorf("changelog lacks %q:\n%s", want, log)
	}
	want := `* Mon Nov 23 2026 Jörg Dev <dev@example.invalid> - %{version}-%{release}
- CRI-O v1.2.3 with the crio-userns series patches/v1.2.3 (2 patches, sha256
  abc):
- Patch0001: server: a subject folded over two lines, 100%% long
- Patch0002: server: a subject folded over two lines, 100%% long
`
	if !strings.HasPrefix(log, want) {
		t.Errorf("changelog:\n%s\nwant it to start with:\n%s", log, want)
	}
	if _, err := ReadPatch(filepath.Join(dir, "missing.patch")); err == nil {
		t.Error("ReadPatch of a missing file succeeded")
	}
	must(t, os.WriteFile(p1, []byte("not a patch"), 0o644))
	if _, err := ReadPatch(p1); err == nil {
		t.Error("ReadPatch of a file without headers succeeded")
	}
}

func TestMacrosRoundTrip(t *testing.T) {
	o := &Options{CrioVersion: "v1.36.3", Release: "2", HookVersion: "0.1.0", HookRelease: "3", Dist: ".el9"}
	in := &Inputs{Series: &crio.Series{Version: "v1.36.3", Patches: []string{"a", "b"}}, SeriesSHA256: "ff", GitID: "abc.dirty"}
	path := filepath.Join(t.TempDir(), MacrosFile)
	must(t, os.WriteFile(path, []byte(Macros(o, in, &crio.Module{Sum: "h1:x="})), 0o644))
	m, err := ReadMacros(path)
	must(t, err)
	for k, v := range map[string]string{"crio_version": "1.36.3", "crio_module_sum": "h1:x=", "crio_userns_series": "v1.36.3",
		"crio_userns_patches": "2", "crio_userns_series_sha256": "ff", "crio_userns_version": "0.1.0", "crio_userns_git": "abc.dirty"} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	text := Macros(o, in, &crio.Module{Sum: "h1:x="})
	for _, want := range []string{"%{!?userns_release: %global userns_release 2}", "%{!?hook_release: %global hook_release 3}"} {
		if !strings.Contains(text, want) {
			t.Errorf("macros lack %q:\n%s", want, text)
		}
	}
	if _, ok := m["crio_go_mod_edit"]; ok {
		t.Errorf("crio_go_mod_edit defined without substitutions:\n%s", text)
	}

	// A release whose go.mod names a version the proxy refuses.
	in.GoMod = crio.ModFile{Replaced: []string{"example.com/m@v1.0.0 => v1.0.1"}, EditArgs: []string{"-replace=example.com/m@v1.0.0=example.com/m@v1.0.1"}}
	must(t, os.WriteFile(path, []byte(Macros(o, in, &crio.Module{Sum: "h1:x="})), 0o644))
	m, err = ReadMacros(path)
	must(t, err)
	if got := m["crio_go_mod_edit"]; got != "-replace=example.com/m@v1.0.0=example.com/m@v1.0.1" {
		t.Errorf("crio_go_mod_edit = %q", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{CrioVersion: "v1.36.3", Release: "1", HookVersion: "0.1.0", HookRelease: "1", Dist: ".el9", Out: "/o", Root: "/r"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.CrioRelease() != "990.userns.1.el9" || good.CrioRPMVersion() != "1.36.3" {
		t.Errorf("release %q version %q", good.CrioRelease(), good.CrioRPMVersion())
	}
	for _, bad := range []func(*Options){
		func(o *Options) { o.CrioVersion = "1.36.3" },
		func(o *Options) { o.Release = "1-2" },
		func(o *Options) { o.HookVersion = "" },
		func(o *Options) { o.Dist = "el9" },
		func(o *Options) { o.Out = "rel" },
	} {
		o := good
		bad(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%+v validated", o)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestInputsSum: the reuse stamp changes with any staged source, spec or
// definition, and only then.
func TestInputsSum(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "SOURCES")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a.tar.gz"), []byte("a"), 0o644))
	spec := filepath.Join(dir, "x.spec")
	must(t, os.WriteFile(spec, []byte("Name: x"), 0o644))
	o := &Options{Dist: ".el9", Out: dir}
	in := &Inputs{Sources: src, Specs: []string{spec}}
	sum := func() string {
		s, err := inputsSum(o, in)
		must(t, err)
		return s
	}
	first := sum()
	if sum() != first {
		t.Fatal("the same inputs gave two sums")
	}
	for _, change := range []func(){
		func() { must(t, os.WriteFile(filepath.Join(src, "a.tar.gz"), []byte("b"), 0o644)) },
		func() { must(t, os.WriteFile(filepath.Join(src, "0001-x.patch"), []byte("p"), 0o644)) },
		func() { must(t, os.WriteFile(spec, []byte("Name: y"), 0o644)) },
		func() { o.Dist = ".el8" },
	} {
		before := sum()
		change()
		if sum() == before {
			t.Error("a changed input kept the sum")
		}
	}
	if _, ok := existing(o, 1); ok {
		t.Error("existing() found packages in an empty output directory")
	}
	for _, f := range []string{"x-1-1.src.rpm", "x-1-1.x86_64.rpm"} {
		must(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	if p, ok := existing(o, 1); !ok || len(p.RPMs) != 1 || len(p.SRPMs) != 1 {
		t.Errorf("existing() = %+v, %v", p, ok)
	}
}
