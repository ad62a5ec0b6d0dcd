package authcore

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDiscoveryGolden(t *testing.T) {
	cases := []struct {
		config, path, golden string
	}{
		{"example", "/.well-known/oauth-protected-resource/team-a/mcp", "example-prm-team-a.json"},
		{"example", "/.well-known/oauth-protected-resource/team-b/mcp", "example-prm-team-b.json"},
		{"example", "/.well-known/oauth-authorization-server", "example-as-metadata.json"},
		{"example", "/oauth/jwks", "example-jwks.json"},
		{"minimal", "/.well-known/oauth-protected-resource/mcp", "minimal-prm.json"},
		{"minimal", "/.well-known/oauth-protected-resource", "minimal-prm-root.json"},
		{"minimal", "/.well-known/oauth-authorization-server", "minimal-as-metadata.json"},
		{"issuer-path", "/.well-known/oauth-authorization-server/tenant-1", "issuer-path-as-metadata.json"},
		{"issuer-path", "/.well-known/oauth-protected-resource/tenant-1/mcp", "issuer-path-prm.json"},
		{"issuer-path", "/tenant-1/oauth/jwks", "issuer-path-jwks.json"},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			e := newTestEngine(t, tc.config)
			r := mustReply(t, e.Handle(get(tc.path)))
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if ct := r.Headers.Get("content-type"); ct != "application/json" {
				t.Errorf("content-type = %q", ct)
			}
			if cc := r.Headers.Get("cache-control"); cc != "public, max-age=3600" {
				t.Errorf("cache-control = %q", cc)
			}
			if ao := r.Headers.Get("access-control-allow-origin"); ao != "*" {
				t.Errorf("access-control-allow-origin = %q", ao)
			}
			golden(t, tc.golden, r.Body)
		})
	}
}

// TestIssuerIdentity checks that the issuer string is byte-identical in the
// AS metadata and in every PRM's authorization_servers (RFC 8414 §3.3; RFC 9728 §2).
func TestIssuerIdentity(t *testing.T) {
	for _, name := range []string{"example", "minimal", "issuer-path"} {
		e := newTestEngine(t, name)
		c := e.Config()
		var as AuthorizationServerMetadata
		if err := json.Unmarshal(mustReply(t, e.Handle(get(c.asMetadataPath()))).Body, &as); err != nil {
			t.Fatal(err)
		}
		if as.Issuer != c.Issuer {
			t.Errorf("%s: metadata issuer %q != %q", name, as.Issuer, c.Issuer)
		}
		for _, r := range c.Resources {
			var prm ProtectedResourceMetadata
			if err := json.Unmarshal(mustReply(t, e.Handle(get(WellKnownPRM+r.Path))).Body, &prm); err != nil {
				t.Fatal(err)
			}
			if len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != c.Issuer {
				t.Errorf("%s: PRM authorization_servers %q, want [%q]", name, prm.AuthorizationServers, c.Issuer)
			}
			if prm.Resource != r.URI {
				t.Errorf("%s: PRM resource %q, want %q", name, prm.Resource, r.URI)
			}
			for _, s := range prm.ScopesSupported {
				if s == ScopeOfflineAccess {
					t.Errorf("%s: offline_access advertised in PRM", name)
				}
			}
		}
	}
}

func TestDiscoveryEdges(t *testing.T) {
	ex := newTestEngine(t, "example")
	min := newTestEngine(t, "minimal")
	t.Run("root PRM absent with several resources", func(t *testing.T) {
		r := mustReply(t, ex.Handle(get(WellKnownPRM)))
		if r.Status != 404 {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("root PRM names the origin", func(t *testing.T) {
		var prm ProtectedResourceMetadata
		_ = json.Unmarshal(mustReply(t, min.Handle(get(WellKnownPRM))).Body, &prm)
		if prm.Resource != "https://mcp.example.com" {
			t.Errorf("resource %q", prm.Resource)
		}
	})
	t.Run("trailing slash is not the resource", func(t *testing.T) {
		r := mustReply(t, min.Handle(get(WellKnownPRM+"/mcp/")))
		if r.Status != 404 {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("query after the suffixed path", func(t *testing.T) {
		r := mustReply(t, min.Handle(get(WellKnownPRM+"/mcp?x=1")))
		if r.Status != 200 {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("unknown well-known is 404 not challenge", func(t *testing.T) {
		r := mustReply(t, min.Handle(get("/.well-known/openid-configuration")))
		if r.Status != 404 || r.Headers.Get("www-authenticate") != "" {
			t.Errorf("status %d headers %v", r.Status, r.Headers)
		}
	})
	t.Run("HEAD has headers and no body", func(t *testing.T) {
		req := get(WellKnownPRM + "/mcp")
		req.Method = "HEAD"
		r := mustReply(t, min.Handle(req))
		if r.Status != 200 || len(r.Body) != 0 || r.Headers.Get("content-type") != "application/json" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("POST is 405", func(t *testing.T) {
		req := get(WellKnownPRM + "/mcp")
		req.Method = "POST"
		r := mustReply(t, min.Handle(req))
		if r.Status != 405 || r.Headers.Get("allow") != "GET, HEAD" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		req := get(WellKnownPRM + "/mcp")
		req.Method = "OPTIONS"
		req.Headers = Header{{"origin", "https://app.example"}, {"access-control-request-method", "GET"}}
		r := mustReply(t, min.Handle(req))
		if r.Status != 204 || r.Headers.Get("access-control-allow-origin") != "*" ||
			!strings.Contains(r.Headers.Get("access-control-allow-methods"), "GET") ||
			!strings.Contains(r.Headers.Get("access-control-allow-headers"), "mcp-protocol-version") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("host header never used", func(t *testing.T) {
		req := get(WellKnownPRM + "/mcp")
		req.Authority = `evil.example", x="`
		r := mustReply(t, min.Handle(req))
		if strings.Contains(string(r.Body), "evil") {
			t.Errorf("host header leaked into document: %s", r.Body)
		}
	})
	t.Run("pass-through", func(t *testing.T) {
		for _, p := range []string{"/", "/other", "/mcpx", "/api/mcp"} {
			if _, ok := min.Handle(get(p)).(Forward); !ok || min.Intercepts(p) {
				t.Errorf("%s is not passed through untouched", p)
			}
		}
	})
	t.Run("encoded resource paths are guarded", func(t *testing.T) {
		for _, p := range []string{"/mcp", "/mcp/", "/mcp/sub", "/%6dcp", "/x/../mcp", "//mcp", "/mcp%2fx", "/%zz"} {
			if !min.Intercepts(p) {
				t.Errorf("%s is not intercepted", p)
			}
		}
	})
}

func TestCORSAllowList(t *testing.T) {
	cfg, err := ParseConfig([]byte(cfgJSON(map[string]string{"cors": `{"allowed_origins":["https://app.example.com"]}`})))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(cfg, Options{})
	req := get(WellKnownPRM + "/mcp")
	req.Headers = Header{{"origin", "https://app.example.com"}}
	r := mustReply(t, e.Handle(req))
	if r.Headers.Get("access-control-allow-origin") != "https://app.example.com" || r.Headers.Get("vary") != "origin" {
		t.Errorf("allowed origin: %v", r.Headers)
	}
	req.Headers = Header{{"origin", "https://evil.example"}}
	r = mustReply(t, e.Handle(req))
	if r.Headers.Get("access-control-allow-origin") != "" {
		t.Errorf("disallowed origin got %v", r.Headers)
	}
}

// TestDocumentRepliesPrebuilt: a discovery document that does not depend
// on the request is served from outcomes built once (no allocation, the
// same Headers every time), needs no peer address, and still answers
// HEAD without a body.
func TestDocumentRepliesPrebuilt(t *testing.T) {
	e := newTestEngine(t, "guard")
	req := get(WellKnownPRM + "/mcp")
	if e.WantsPeer(req) {
		t.Error("a discovery document asks for the peer address")
	}
	first := mustReply(t, e.Handle(req))
	second := mustReply(t, e.Handle(get(WellKnownPRM+"/mcp")))
	if first.Status != 200 || len(first.Body) == 0 || &first.Headers[0] != &second.Headers[0] {
		t.Fatalf("replies not prebuilt: %+v", first)
	}
	if n := testing.AllocsPerRun(100, func() { e.Handle(req) }); n != 0 {
		t.Errorf("serving a document allocates %v times", n)
	}
	head := get(WellKnownPRM + "/mcp")
	head.Method = "HEAD"
	if r := mustReply(t, e.Handle(head)); r.Status != 200 || r.Body != nil {
		t.Errorf("HEAD reply %+v", r)
	}
	as := newTestEngine(t, "as-dev")
	if !as.WantsPeer(&Request{Method: "POST", Path: as.cfg.Endpoints.Token}) || !as.WantsPeer(&Request{Method: "POST", Path: as.cfg.Endpoints.Registration}) {
		t.Error("the token or registration endpoint does not ask for the peer address")
	}
}
