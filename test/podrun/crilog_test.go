package podrun

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCRILog(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		wantErr  bool
	}{{
		name: "full lines from both streams",
		in: "2026-11-23T13:42:33.123456789Z stdout F --- uid_map\n" +
			"2026-11-23T13:42:33.123456790Z stderr F warning: x\n" +
			"2026-11-23T13:42:33.123456791Z stdout F          0 1000650000          1\n",
		want: []string{"--- uid_map", "warning: x", "         0 1000650000          1"},
	}, {
		name: "partial lines are joined per stream",
		in: "T stdout P SUMMARY switched=\n" +
			"T stderr F err\n" +
			"T stdout P 1/5 root=ok\n" +
			"T stdout F  daemon=fail\n",
		want: []string{"err", "SUMMARY switched=1/5 root=ok daemon=fail"},
	}, {
		name: "empty content and tags with options",
		in:   "T stdout F \nT stdout F\nT stdout F:x y\n",
		want: []string{"", "", "y"},
	}, {
		name: "an unfinished partial line is kept",
		in:   "T stdout P half",
		want: []string{"half"},
	}, {
		name:    "not a CRI log",
		in:      "hello\n",
		wantErr: true,
	}, {
		name:    "unknown stream",
		in:      "T stdin F x\n",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCRILog(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadCRILogMissingFile(t *testing.T) {
	lines, err := ReadCRILog(filepath.Join(t.TempDir(), "c", "0.log"))
	if err != nil || lines != nil {
		t.Errorf("ReadCRILog(missing) = %q, %v; want nothing, no error", lines, err)
	}
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("T stdout F ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if lines, err := ReadCRILog(path); err != nil || !reflect.DeepEqual(lines, []string{"ok"}) {
		t.Errorf("ReadCRILog = %q, %v", lines, err)
	}
}
