package cri

import (
	"strings"
	"testing"
)

func TestPIDFromInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		info    map[string]string
		want    int
		wantErr string
	}{
		{"cri-o inspect json", map[string]string{"info": `{"sandboxID":"x","pid":4242,"runtimeSpec":{}}`}, 4242, ""},
		{"bare pid key", map[string]string{"pid": "17"}, 17, ""},
		{"no info", map[string]string{}, 0, "has no info"},
		{"zero pid (exited)", map[string]string{"info": `{"pid":0}`}, 0, "has no pid"},
		{"garbage", map[string]string{"info": `{`}, 0, "decoding verbose status info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PIDFromInfo(tc.info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
