package authcore

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// mapShare is a TokenShare over a map, like shared data seen by every
// engine of a host.
type mapShare map[string][]byte

func (m mapShare) Get(k string) ([]byte, bool) { v, ok := m[k]; return v, ok }
func (m mapShare) Set(k string, v []byte)      { m[k] = append([]byte(nil), v...) }

// TestTokenShareOneVerificationPerHost: eight engines sharing one store
// see one new token; the signature is verified once, the others accept it
// from the record and still check its claims themselves.
func TestTokenShareOneVerificationPerHost(t *testing.T) {
	share := mapShare{}
	host := &envoyCrypto{}
	var engines []*Engine
	for i := 0; i < 8; i++ {
		e, err := New(loadConfig(t, "guard"), Options{TokenShare: share, HostCrypto: host})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	tok := mintFor(t, engines[0], "https://mcp.example.com/mcp", "mcp:tools")
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	for i, e := range engines {
		if _, ok := run(e, mcpPost("/mcp", tok, body)).(Forward); !ok {
			t.Fatalf("engine %d refused the token", i)
		}
	}
	if host.verifies != 1 {
		t.Errorf("signature verified %d times by 8 engines, want 1", host.verifies)
	}
	if len(share) != 1 {
		t.Errorf("%d share records, want 1", len(share))
	}
	// The record vouches for this exact token only: a token that differs
	// (another signature, same claims) is verified, and refused.
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	bad := parts[0] + "." + parts[1] + "." + string(sig)
	if _, ok := run(engines[3], mcpPost("/mcp", bad, body)).(Forward); ok {
		t.Error("a token with a changed signature was let through")
	}
	if host.verifies != 2 {
		t.Errorf("changed token: %d verifications, want 2", host.verifies)
	}
	// A record whose slot another token's hash would pick is not trusted
	// for it: overwrite every record with one for a different token.
	other := mintFor(t, engines[0], "https://mcp.example.com/mcp", "mcp:tools")
	fresh, err := New(loadConfig(t, "guard"), Options{TokenShare: share, HostCrypto: host})
	if err != nil {
		t.Fatal(err)
	}
	sumTok, _ := fresh.share.verified(tok, time.Now())
	sumOther, _ := fresh.share.verified(other, time.Now())
	share[fresh.share.key(sumOther)] = share[fresh.share.key(sumTok)]
	before := host.verifies
	if _, ok := run(fresh, mcpPost("/mcp", other, body)).(Forward); !ok {
		t.Fatal("fresh engine refused a valid token")
	}
	if host.verifies != before+1 {
		t.Error("a token was accepted on another token's record")
	}
}

// TestTokenShareRecordExpires: a record is not trusted after the token's
// expiry (plus skew), and engines with other keys do not read it.
func TestTokenShareRecordExpires(t *testing.T) {
	share := mapShare{}
	e, err := New(loadConfig(t, "guard"), Options{TokenShare: share})
	if err != nil {
		t.Fatal(err)
	}
	tok := mintFor(t, e, "https://mcp.example.com/mcp")
	if _, err := e.parseAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, ok := e.share.verified(tok, now); !ok {
		t.Fatal("record not found right after verification")
	}
	if _, ok := e.share.verified(tok, now.Add(5*time.Minute+clockSkew+time.Second)); ok {
		t.Error("record trusted after the token expired")
	}
	// Another key set: another prefix.
	other := newTokenShare(share, e.cfg.Issuer, nil)
	if _, ok := other.verified(tok, now); ok {
		t.Error("an engine with other keys trusted the record")
	}
	// Bounded: many tokens never make more records than slots.
	for i := 0; i < 50; i++ {
		buf := make([]byte, 32)
		rand.Read(buf)
		sum, _ := e.share.verified(string(buf), now)
		e.share.record(sum, now.Add(time.Minute))
	}
	if len(share) > tokenShareSlots {
		t.Errorf("%d records", len(share))
	}
}
