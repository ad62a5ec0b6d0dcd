package harnesstest

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// TestDoH asks the resolver over https, trusting only the CA, and checks
// the answers against the zone: A and AAAA records, a CNAME followed, an
// NXDOMAIN, a configured RCODE, and the query log.
func TestDoH(t *testing.T) {
	ca := NewCA(t)
	doh := StartDoH(t, ca)
	doh.Set("Client.Test.", "127.0.0.1", "::1")
	doh.SetCNAME("alias.test", "client.test")
	doh.SetRcode("broken.test", dnsmessage.RCodeServerFailure)
	tr := &http.Transport{TLSClientConfig: ca.TLSConfig()}
	tr.TLSClientConfig.ServerName = doh.Authority
	client := &http.Client{Transport: tr}

	ask := func(name string, qtype dnsmessage.Type, post bool) dnsmessage.Message {
		t.Helper()
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{RecursionDesired: true})
		_ = b.StartQuestions()
		_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: qtype, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		var resp *http.Response
		var err error
		if post {
			resp, err = client.Post(doh.URL+doh.Path, "application/dns-message", bytes.NewReader(q))
		} else {
			resp, err = client.Get(doh.URL + doh.Path + "?dns=" + base64.RawURLEncoding.EncodeToString(q))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/dns-message" {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		var m dnsmessage.Message
		if err := m.Unpack(body); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := ask("client.test", dnsmessage.TypeA, false); len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{127, 0, 0, 1} {
		t.Errorf("A: %+v", m.Answers)
	}
	if m := ask("client.test", dnsmessage.TypeAAAA, true); len(m.Answers) != 1 || m.Answers[0].Header.Type != dnsmessage.TypeAAAA {
		t.Errorf("AAAA: %+v", m.Answers)
	}
	if m := ask("alias.test", dnsmessage.TypeA, false); len(m.Answers) != 2 || m.Answers[0].Header.Type != dnsmessage.TypeCNAME {
		t.Errorf("CNAME: %+v", m.Answers)
	}
	if m := ask("nothing.test", dnsmessage.TypeA, false); m.RCode != dnsmessage.RCodeNameError {
		t.Errorf("unknown name: %v", m.RCode)
	}
	if m := ask("broken.test", dnsmessage.TypeA, false); m.RCode != dnsmessage.RCodeServerFailure {
		t.Errorf("SERVFAIL name: %v", m.RCode)
	}
	doh.Remove("client.test")
	if m := ask("client.test", dnsmessage.TypeA, false); m.RCode != dnsmessage.RCodeNameError {
		t.Errorf("removed name: %v", m.RCode)
	}
	if n := doh.Count("CLIENT.test"); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if q := doh.Queries(); len(q) != 6 || q[1].Method != http.MethodPost || q[0].Name != "client.test" || q[0].Type != dnsmessage.TypeA {
		t.Errorf("query log %+v", q)
	}

	// A client that does not trust the CA is refused.
	if _, err := http.Get(doh.URL + doh.Path); err == nil {
		t.Error("the system roots trust the test CA")
	}
}
