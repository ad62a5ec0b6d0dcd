package e2e

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// formBrowser is a cookie-keeping HTTP client that follows no redirects and
// submits the consent form the way a browser does (no JavaScript needed).
type formBrowser struct {
	t      testing.TB
	client *http.Client
	// action chooses the consent button: "approve" or "deny".
	action string
	// pages counts consent pages shown.
	pages int
	// origin, when set, is sent as the consent POST's Origin header.
	origin string
}

func newFormBrowser(t testing.TB) *formBrowser {
	jar, _ := cookiejar.New(nil)
	return &formBrowser{t: t, action: "approve", client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// authorize opens an authorization URL, answers the consent page if one
// is shown, and returns the final redirect to the client.
func (b *formBrowser) authorize(ctx context.Context, authURL string) (*url.URL, error) {
	res, err := b.client.Get(authURL)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusFound, http.StatusSeeOther:
		return res.Location()
	case http.StatusOK:
	default:
		return nil, fmt.Errorf("authorize: %d %s", res.StatusCode, body)
	}
	b.pages++
	m := formAction.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("authorize: no consent form in %s", body)
	}
	form := url.Values{"action": {b.action}}
	for _, f := range hiddenInput.FindAllSubmatch(body, -1) {
		form.Set(string(f[1]), html.UnescapeString(string(f[2])))
	}
	action, _ := url.Parse(authURL)
	action, _ = action.Parse(html.UnescapeString(string(m[1])))
	post, err := http.NewRequestWithContext(ctx, "POST", action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		post.Header.Set("Origin", b.origin)
	}
	res, err = b.client.Do(post)
	if err != nil {
		return nil, err
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("consent: %d %s", res.StatusCode, body)
	}
	return res.Location()
}

// fetcher adapts the browser to the MCP Go SDK's AuthorizationCodeFetcher.
func (b *formBrowser) fetcher(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
	loc, err := b.authorize(ctx, args.URL)
	if err != nil {
		return nil, err
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return nil, errors.New("authorization error: " + e + ": " + q.Get("error_description"))
	}
	if strings.Count(loc.RawQuery, "iss=") != 1 {
		b.t.Errorf("redirect %s does not carry exactly one iss", loc)
	}
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}
