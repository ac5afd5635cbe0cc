package idmap

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var mapToRoot = []rspec.LinuxIDMapping{
	{ContainerID: 1, HostID: 200000, Size: 65535},
	{ContainerID: 0, HostID: 1000650000, Size: 1},
}

func TestToHost(t *testing.T) {
	for _, tc := range []struct {
		maps   []rspec.LinuxIDMapping
		id     uint32
		want   uint32
		wantOK bool
	}{
		{mapToRoot, 0, 1000650000, true},
		{mapToRoot, 1, 200000, true},
		{mapToRoot, 65534, 265533, true},
		{mapToRoot, 65535, 200000 + 65534, true},
		{mapToRoot, 65536, 0, false},
		{nil, 0, 0, false},
		{[]rspec.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 4294967295}}, 4294967294, 4294967294, true},
		{[]rspec.LinuxIDMapping{{ContainerID: 4294967295, HostID: 7, Size: 1}}, 4294967295, 7, true},
		{[]rspec.LinuxIDMapping{{ContainerID: 0, HostID: 7, Size: 0}}, 0, 0, false},
	} {
		got, ok := ToHost(tc.maps, tc.id)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ToHost(%v, %d) = %d, %v; want %d, %v", tc.maps, tc.id, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestToContainer(t *testing.T) {
	for _, tc := range []struct {
		maps   []rspec.LinuxIDMapping
		host   uint32
		want   uint32
		wantOK bool
	}{
		{mapToRoot, 1000650000, 0, true},
		{mapToRoot, 1000650001, 0, false},
		{mapToRoot, 200000, 1, true},
		{mapToRoot, 265533, 65534, true},
		{mapToRoot, 199999, 0, false},
		{nil, 0, 0, false},
	} {
		got, ok := ToContainer(tc.maps, tc.host)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ToContainer(%v, %d) = %d, %v; want %d, %v", tc.maps, tc.host, got, ok, tc.want, tc.wantOK)
		}
	}
}
