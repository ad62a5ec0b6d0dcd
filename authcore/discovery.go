package authcore

// addDiscoveryRoutes registers the discovery documents, each rendered once:
// the path-suffixed protected resource metadata of every resource (RFC 9728
// §3.1), the root document when the host has exactly one resource, the AS
// metadata at its RFC 8414 §3.1 location, and the JWKS.
func (e *Engine) addDiscoveryRoutes() {
	c := e.cfg
	for _, r := range c.Resources {
		e.routes[WellKnownPRM+r.Path] = e.document(indentedJSON(c.prmDocument(r).marshal()))
	}
	// RFC 9728 §3.3: a document found via the well-known URL without a path
	// must name the identifier the suffix was inserted into, the origin.
	// It is only unambiguous when the origin has a single resource.
	if origins := c.resourceOrigins(); len(c.Resources) == 1 {
		doc := c.prmDocument(c.Resources[0])
		doc.Resource = origins[0]
		e.routes[WellKnownPRM] = e.document(indentedJSON(doc.marshal()))
	}
	if c.Issuer != "" {
		e.routes[c.Endpoints.JWKS] = e.document(c.jwksDocument())
	}
}

// addASMetadataRoute registers the AS metadata; it runs after every other
// route so that the document lists exactly what is served.
func (e *Engine) addASMetadataRoute() {
	if e.cfg.Issuer == "" {
		return // only a resource server: no AS metadata (config_issuers.go)
	}
	e.routes[e.cfg.asMetadataPath()] = e.document(indentedJSON(e.asMetadata().marshal()))
}

// document returns a route that serves a fixed JSON document. When the
// reply does not depend on the request (no CORS, or CORS for any origin),
// the GET and HEAD outcomes are built once: serving them allocates
// nothing, and a host may recognise a repeated reply by its Headers (which,
// like every Header of an outcome, it must treat as read-only).
func (e *Engine) document(body []byte) *route {
	rt := &route{methods: "GET, HEAD", noPeer: true, copies: true}
	if origins := e.cfg.CORS.AllowedOrigins; len(origins) == 0 || origins[0] == "*" {
		h := e.documentHeaders(nil)
		get, head := Outcome(Reply{Status: 200, Headers: h, Body: body}), Outcome(Reply{Status: 200, Headers: h})
		rt.handle = func(req *Request) Outcome {
			if req.Method == "HEAD" {
				return head
			}
			return get
		}
		return rt
	}
	rt.handle = func(req *Request) Outcome {
		h := e.documentHeaders(req)
		if req.Method == "HEAD" {
			return Reply{Status: 200, Headers: h}
		}
		return Reply{Status: 200, Headers: h, Body: body}
	}
	return rt
}

// documentHeaders are a discovery document's reply headers; req is only
// read for a CORS allow-list of origins.
func (e *Engine) documentHeaders(req *Request) Header {
	h := Header{
		{"content-type", "application/json"},
		{"cache-control", e.cfg.cacheControl()},
	}
	h = append(h, e.corsHeaders(req)...)
	return h[:len(h):len(h)]
}

// asMetadata lists only what the engine really serves: an endpoint appears
// when its route is registered.
func (e *Engine) asMetadata() AuthorizationServerMetadata {
	c := e.cfg
	m := AuthorizationServerMetadata{
		Issuer:                 c.Issuer,
		JWKSURI:                c.url(c.Endpoints.JWKS),
		ResponseTypesSupported: []string{"code"},
	}
	for _, r := range c.Resources {
		m.ProtectedResources = append(m.ProtectedResources, r.URI)
	}
	e.addASMetadata(&m) // as.go
	return m
}

// resourceOrigins lists the distinct origins of the configured resources.
func (c *Config) resourceOrigins() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.Resources {
		if !seen[r.origin] {
			seen[r.origin] = true
			out = append(out, r.origin)
		}
	}
	return out
}
