package policy

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestDecodeTOML(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Policy
		wantErr  string
	}{
		{name: "every form the policy uses", in: "# c\nmode = \"audit\" # trailing\n\nallow_host_root = true\nallowed_uids = [\n  \"1-2\", # one\n  '3',\n]\nallowed_gids = []\r\naudit_log = 'C:\\x'\n",
			want: Policy{Mode: Audit, AllowHostRoot: true, AllowedUIDs: []string{"1-2", "3"}, AllowedGIDs: []string{}, AuditLog: `C:\x`}},
		{name: "escapes", in: `subid_owner = "a\"b\\c\u00e9\U0001F600\t"`, want: Policy{SubIDOwner: "a\"b\\c\u00e9\U0001F600\t"}},
		{name: "quoted key", in: `"mode" = "audit"`, want: Policy{Mode: Audit}},
		{name: "no spaces", in: `mode="audit"`, want: Policy{Mode: Audit}},
		{name: "false", in: "allow_host_root = false\n", want: Policy{}},
		{name: "given twice", in: "mode = \"audit\"\nmode = \"enforce\"\n", wantErr: "line 2: mode: given twice"},
		{name: "dotted key", in: "mode.x = 1\n", wantErr: "line 1: mode: dotted keys are not part of the policy"},
		{name: "multi-line string", in: "mode = \"\"\"audit\"\"\"\n", wantErr: "line 1: multi-line strings are not part of the policy"},
		{name: "number", in: "timeout = 5\n", wantErr: `line 1: timeout: want a string, true, false or an array of strings, found "5"`},
		{name: "table", in: "mode = \"audit\"\n[x]\ny = 1\n", wantErr: "unknown key(s): x"},
		{name: "inline table", in: "mode = {a = 1}\n", wantErr: `line 1: mode: want a string, true, false or an array of strings`},
		{name: "array of booleans", in: "allowed_uids = [true]\n", wantErr: "line 1: allowed_uids: want an array of strings"},
		{name: "string for an array", in: "allowed_uids = \"1-2\"\n", wantErr: "line 1: allowed_uids: want an array of strings"},
		{name: "unterminated string", in: "mode = \"audit\n", wantErr: "line 1: unterminated string"},
		{name: "unterminated array", in: "allowed_uids = [\"1\"\n", wantErr: "line 1: allowed_uids: unterminated array"},
		{name: "garbage after the value", in: "mode = \"audit\" x\n", wantErr: `line 1: mode: unexpected "x" after the value`},
		{name: "control character", in: "mode = \"a\x01\"\n", wantErr: "line 1: control character 0x01"},
		{name: "NUL in a comment", in: "# \x00\n", wantErr: "line 1: control character 0x00"},
		{name: "bad escape", in: `mode = "\q"`, wantErr: `line 1: bad escape \q`},
		{name: "surrogate escape", in: `mode = "\uD800"`, wantErr: `line 1: bad \u escape "D800"`},
		{name: "not UTF-8", in: "mode = \"\xff\"", wantErr: "not valid UTF-8"},
		{name: "no key", in: "= 1\n", wantErr: `line 1: expected a key, found "= 1"`},
		{name: "truex", in: "allow_host_root = truex\n", wantErr: "line 1: allow_host_root: want a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Policy
			err := decodeTOML(tc.in, &p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}
}

// parseWithTOMLLibrary is the reference: a general TOML decoder, with
// unknown keys refused.
func parseWithTOMLLibrary(data string) (Policy, error) {
	var p Policy
	md, err := toml.NewDecoder(bytes.NewReader([]byte(data))).Decode(&p)
	if err != nil {
		return Policy{}, err
	}
	if len(md.Undecoded()) > 0 {
		return Policy{}, os.ErrInvalid
	}
	return p, nil
}

// FuzzDecodeTOML: whatever the policy's own decoder accepts, a general
// TOML decoder reads the same way.
func FuzzDecodeTOML(f *testing.F) {
	data, err := os.ReadFile("../../contrib/crio-userns/policy.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	for _, s := range []string{"mode = \"audit\"\n", "allowed_uids = [\n'1', # x\n\"2\",\n]\n", `subid_owner = "\u00e9\\"`, "allow_host_root=true", "[x]\n", "a = 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var mine Policy
		if err := decodeTOML(s, &mine); err != nil {
			return
		}
		ref, err := parseWithTOMLLibrary(s)
		if err != nil {
			t.Fatalf("%q: accepted here, the TOML library says %v", s, err)
		}
		if !reflect.DeepEqual(mine, ref) {
			t.Fatalf("%q:\n here %+v\n  lib %+v", s, mine, ref)
		}
	})
}
