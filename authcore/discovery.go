package authcore

// addDiscoveryRoutes registers the discovery documents, each rendered once:
// the path-suffixed protected resource metadata of every resource (RFC 9728
// §3.1), the root document when the host has exactly one resource, the AS
// metadata at its RFC 8414 §3.1 location, and the JWKS.
func (e *Engine) addDiscoveryRoutes() {
	c := e.cfg
	for _, r := range c.Resources {
		e.routes[WellKnownPRM+r.Path] = e.document(mustJSON(c.prmDocument(r)))
	}
	// RFC 9728 §3.3: a document found via the well-known URL without a path
	// must name the identifier the suffix was inserted into, the origin.
	// It is only unambiguous when the origin has a single resource.
	if origins := c.resourceOrigins(); len(c.Resources) == 1 {
		doc := c.prmDocument(c.Resources[0])
		doc.Resource = origins[0]
		e.routes[WellKnownPRM] = e.document(mustJSON(doc))
	}
	e.routes[c.Endpoints.JWKS] = e.document(c.jwksDocument())
}

// addASMetadataRoute registers the AS metadata; it runs after every other
// route so that the document lists exactly what is served.
func (e *Engine) addASMetadataRoute() {
	e.routes[e.cfg.asMetadataPath()] = e.document(mustJSON(e.asMetadata()))
}

// document returns a route that serves a fixed JSON document.
func (e *Engine) document(body []byte) *route {
	return &route{methods: "GET, HEAD", handle: func(req *Request) Outcome {
		return e.serveDocument(req, body)
	}}
}

func (e *Engine) serveDocument(req *Request, body []byte) Outcome {
	h := Header{
		{"content-type", "application/json"},
		{"cache-control", e.cfg.cacheControl()},
	}
	h = append(h, e.corsHeaders(req)...)
	if req.Method == "HEAD" {
		return Reply{Status: 200, Headers: h}
	}
	return Reply{Status: 200, Headers: h, Body: body}
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
