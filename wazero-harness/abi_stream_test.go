package harness

import "testing"

// TestStreamCallsWithoutStream checks the stream host calls from the root
// context and their argument checks, without a module.
func TestStreamCallsWithoutStream(t *testing.T) {
	vm := &VM{h: &Host{}, rootID: 1, effective: 1, streams: map[uint32]*stream{7: {}}}
	tests := []struct {
		name  string
		fn    func(*VM, []uint64) uint32
		stack []uint64
		want  uint32
	}{
		{"continue request from root", proxyContinueStream, []uint64{streamRequest}, statusOK},
		{"continue upstream", proxyContinueStream, []uint64{streamUpstream}, statusUnimplemented},
		{"continue bad type", proxyContinueStream, []uint64{9}, statusBadArgument},
		{"close downstream", proxyCloseStream, []uint64{streamDownstream}, statusOK},
		{"close bad type", proxyCloseStream, []uint64{9}, statusBadArgument},
		{"effective context unknown", proxySetEffectiveContext, []uint64{42}, statusBadArgument},
		{"effective context stream", proxySetEffectiveContext, []uint64{7}, statusOK},
		{"effective context root", proxySetEffectiveContext, []uint64{1}, statusOK},
		{"foreign function unknown", proxyCallForeignFunction, make([]uint64, 6), statusNotFound},
		{"done", proxyDone, nil, statusOK},
	}
	for _, tt := range tests {
		if got := tt.fn(vm, tt.stack); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	if vm.effective != 1 {
		t.Errorf("effective context %d after setting the root", vm.effective)
	}
}

func TestLocalReplyHeaders(t *testing.T) {
	r := localReply(401, [][2]string{{"WWW-Authenticate", `Bearer resource_metadata="x"`}, {"set-cookie", "a"}, {"set-cookie", "b"}}, []byte("no"), "d")
	want := headerMap{{":status", "401"}, {"www-authenticate", `Bearer resource_metadata="x"`}, {"set-cookie", "a"}, {"set-cookie", "b"}, {"content-type", "text/plain"}, {"content-length", "2"}}
	if len(r.headers) != len(want) {
		t.Fatalf("headers %q, want %q", r.headers, want)
	}
	for i := range want {
		if r.headers[i] != want[i] {
			t.Errorf("header %d = %q, want %q", i, r.headers[i], want[i])
		}
	}
	if r := localReply(204, [][2]string{{"content-type", "application/json"}}, nil, ""); len(r.headers.values("content-type")) != 1 {
		t.Errorf("content-type added to a reply without body or duplicated: %q", r.headers)
	}
}
