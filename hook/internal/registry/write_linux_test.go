package registry

import (
	"os"
	"path/filepath"
	"testing"
)

// writeFile replaces the file whole, creates a missing directory, and
// leaves no temporary file behind, whether it succeeds or fails.
func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ns")
	tx := &Txn{}
	if err := tx.writeFile(dir, "a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := tx.writeFile(dir, "a", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(data) != "two" {
		t.Fatalf("a = %q, %v", data, err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "a")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", st, err)
	}
	// A directory where the file goes: the rename fails, and the
	// temporary file goes too.
	os.Mkdir(filepath.Join(dir, "b"), 0o700)
	if err := tx.writeFile(dir, "b", []byte("x")); err == nil {
		t.Fatal("renamed over a directory")
	}
	names, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
	// A missing parent of the directory is an error, not created.
	if err := tx.writeFile(filepath.Join(t.TempDir(), "x", "ns"), "a", nil); err == nil {
		t.Fatal("wrote under a missing parent")
	}
}
