package rpm

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// WriteTarGz archives the files of dir that keep accepts (nil: all of them)
// into a gzip-compressed tar at dst, every entry named prefix+relative path.
// The archive depends on the files' contents only: entries are sorted, owned
// by root, dated mtime, mode 0644 or 0755 (executable) and 0755 for
// directories, so the same tree always gives the same bytes.
func WriteTarGz(dst, dir, prefix string, mtime time.Time, keep func(rel string, d fs.DirEntry) bool) error {
	var rels []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if keep != nil && !keep(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rels = append(rels, rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	sort.Strings(rels)

	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	werr := func() error {
		for _, rel := range rels {
			if err := addEntry(tw, filepath.Join(dir, filepath.FromSlash(rel)), path.Join(prefix, rel), mtime); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(dst)
		return fmt.Errorf("writing %s: %w", dst, werr)
	}
	return nil
}

func addEntry(tw *tar.Writer, src, name string, mtime time.Time) error {
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: name, ModTime: mtime.Truncate(time.Second), Uname: "root", Gname: "root"}
	switch {
	case info.IsDir():
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o755
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
	case info.Mode().IsRegular():
		h.Typeflag, h.Size, h.Mode = tar.TypeReg, info.Size(), 0o644
		if info.Mode()&0o111 != 0 {
			h.Mode = 0o755
		}
	default:
		return fmt.Errorf("%s: cannot archive a %v", src, info.Mode().Type())
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(tw, in)
	return err
}
