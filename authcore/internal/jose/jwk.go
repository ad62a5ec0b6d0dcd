package jose

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"math/bits"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// Bounds on RSA keys (RFC 7518 §3.3: "A key of size 2048 bits or larger
// MUST be used with these algorithms").
const (
	MinRSABits = 2048
	// defaultMaxRSABits bounds verification cost when a Policy gives none.
	defaultMaxRSABits = 8192
	// maxSetMembers bounds the members of a JWK Set examined.
	maxSetMembers = 100
)

// Policy is what one use of keys accepts. The zero value accepts nothing.
type Policy struct {
	// Algs are the algorithms the keys will verify (or sign) with. A key
	// fitting none of them, or whose "alg" is not among them, is unusable.
	Algs []string
	// MinRSABits and MaxRSABits bound the RSA modulus; MinRSABits below
	// [MinRSABits] counts as MinRSABits, MaxRSABits 0 as 8192.
	MinRSABits, MaxRSABits int
	// Private allows the private member "d" (EC and OKP keys only), for
	// keys this server signs with. Without it any private member (RFC 7518
	// §6.2.2, §6.3.2, §6.4.1: "d", "p", "q", "dp", "dq", "qi", "oth", "k")
	// refuses the key: published keys must not carry them.
	Private bool
	// MaxKeys bounds the usable keys [ParseJWKS] returns; later ones are
	// ignored. 0 means 16.
	MaxKeys int
}

// Key is one JSON Web Key (RFC 7517 §4) accepted by a [Policy].
type Key struct {
	_ [0]func() // not comparable: no equality function in the wasm module
	// Kid is the "kid" member, "" when absent.
	Kid string
	// Alg is the "alg" member (RFC 7517 §4.4), "" when the key pins none.
	Alg string
	// Public is an *rsa.PublicKey, *ecdsa.PublicKey (P-256 or P-384) or
	// ed25519.PublicKey.
	Public crypto.PublicKey
	// Private is the private key, only under Policy.Private with "d".
	Private crypto.Signer
}

// Accepts reports whether the key may verify (or make) a signature in alg:
// alg fits the key type ([KeyFits]) and equals the key's own "alg" when it
// pins one.
func (k *Key) Accepts(alg string) bool {
	return (k.Alg == "" || k.Alg == alg) && KeyFits(alg, k.Public)
}

// AlgFor is the one algorithm an EC or OKP public key is used with (ES256,
// ES384, EdDSA), or "" for RSA keys, which fit several.
func AlgFor(pub crypto.PublicKey) string {
	for _, alg := range []string{ES256, ES384, EdDSA} {
		if KeyFits(alg, pub) {
			return alg
		}
	}
	return ""
}

// ErrUnusable wraps the reasons a well-formed JWK is not usable under a
// policy (another use, an unsupported key type or algorithm): a key set
// skips such keys.
var ErrUnusable = errors.New("jose: key not usable here")

func unusable(reason string) error {
	return &keyError{reason: reason, unusable: true}
}

type keyError struct {
	_        [0]func() // not comparable: no equality function in the wasm module
	reason   string
	unusable bool
}

func (e *keyError) Error() string { return e.reason }

func (e *keyError) Is(target error) bool { return e.unusable && target == ErrUnusable }

// errPrivate: a key that should be public carries private members.
var errPrivate = errors.New("a published key carries private key material")

var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWK reads one JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2) under p:
// a strict JSON object (each member once, at every level); kty "RSA", "EC"
// (crv "P-256", "P-384") or "OKP" (crv "Ed25519"); coordinates and keys of
// their exact sizes, EC points on the curve, RSA moduli within p's bounds
// without leading zero octets (RFC 7518 §6.3.1.1) and a minimal odd
// exponent of at least 3; private members only under p.Private. A key type
// or "alg" outside p.Algs, a "use" other than "sig" or "key_ops" without
// "verify" (or "sign" for a private key) makes the key unusable
// ([ErrUnusable]).
func ParseJWK(v jsonv.Result, p *Policy) (*Key, error) {
	if _, err := object([]byte(v.Raw)); err != nil {
		return nil, errors.New("malformed JWK: " + err.Error())
	}
	k := &Key{}
	kid, alg, use := v.Get("kid"), v.Get("alg"), v.Get("use")
	if kid.Exists() && kid.Type != jsonv.String || alg.Exists() && alg.Type != jsonv.String || use.Exists() && use.Type != jsonv.String {
		return nil, errors.New(`"kid", "alg" and "use" must be strings`)
	}
	k.Kid, k.Alg = kid.Str, alg.Str
	kty, crv := v.Get("kty"), v.Get("crv").Str
	if kty.Type != jsonv.String || !anyIn(typeAlgs(kty.Str, crv), p.Algs) {
		return nil, unusable(`unsupported key: want ` + p.describe())
	}
	hasPrivate := hasPrivateMember(v)
	if hasPrivate && !p.Private {
		return nil, errPrivate
	}
	// RFC 7517 §4.2: "sig" (signature); §4.3: "sign", "verify".
	if use.Exists() && use.Str != "sig" {
		return nil, unusable(`"use" is not "sig"`)
	}
	if ops := v.Get("key_ops"); ops.Exists() {
		want := "verify"
		if hasPrivate {
			want = "sign"
		}
		found, ok := false, ops.IsArray()
		ops.ForEach(func(_, op jsonv.Result) bool {
			ok = ok && op.Type == jsonv.String
			found = found || op.Str == want
			return ok
		})
		if !ok {
			return nil, errors.New(`"key_ops" is not an array of strings`)
		}
		if !found {
			return nil, unusable(`"key_ops" lacks "` + want + `"`)
		}
	}
	var err error
	if kty.Str == "RSA" {
		if hasPrivate {
			return nil, unusable("RSA private keys are not supported")
		}
		k.Public, err = parseRSA(v, p)
	} else {
		k.Public, k.Private, err = parseCurveKey(v, kty.Str, crv)
	}
	if err != nil {
		return nil, err
	}
	for _, a := range p.Algs {
		if k.Accepts(a) {
			return k, nil
		}
	}
	if k.Alg != "" {
		return nil, unusable(`the key's "alg" ` + strconv.Quote(k.Alg) + ` is not accepted for this key here`)
	}
	return nil, unusable("unsupported key: want " + p.describe())
}

// typeAlgs are the algorithms defined for a key type and curve.
func typeAlgs(kty, crv string) []string {
	switch {
	case kty == "RSA":
		return []string{RS256, RS384, RS512, PS256, PS384, PS512}
	case kty == "EC" && crv == "P-256":
		return []string{ES256}
	case kty == "EC" && crv == "P-384":
		return []string{ES384}
	case kty == "OKP" && crv == "Ed25519":
		return []string{EdDSA}
	}
	return nil
}

// describe names the key types p accepts, for error messages.
func (p *Policy) describe() string {
	var out []string
	for _, t := range [][3]string{{"EC", "P-256", `kty "EC" with crv "P-256"`}, {"EC", "P-384", `kty "EC" with crv "P-384"`},
		{"OKP", "Ed25519", `kty "OKP" with crv "Ed25519"`}, {"RSA", "", `kty "RSA"`}} {
		if anyIn(typeAlgs(t[0], t[1]), p.Algs) {
			out = append(out, t[2])
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", or ")
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}

// member decodes the base64url string member name; size > 0 requires
// exactly size bytes.
func member(v jsonv.Result, name string, size int) ([]byte, error) {
	f := v.Get(name)
	if f.Type != jsonv.String {
		return nil, errors.New(`member "` + name + `" must be a base64url string`)
	}
	b, err := b64.DecodeString(f.Str)
	if err != nil || len(b) == 0 || (size > 0 && len(b) != size) {
		return nil, errors.New(`member "` + name + `" is not a valid base64url value of ` + strconv.Itoa(size) + ` bytes`)
	}
	return b, nil
}

// parseCurveKey reads an EC (RFC 7518 §6.2) or OKP (RFC 8037 §2) key; "d"
// is optional and must match the public part.
func parseCurveKey(v jsonv.Result, kty, crv string) (crypto.PublicKey, crypto.Signer, error) {
	hasD := v.Get("d").Exists()
	if kty == "OKP" {
		x, err := member(v, "x", ed25519.PublicKeySize)
		if err != nil {
			return nil, nil, err
		}
		pk := ed25519.PublicKey(x)
		if !hasD {
			return pk, nil, nil
		}
		d, err := member(v, "d", ed25519.SeedSize)
		if err != nil {
			return nil, nil, err
		}
		sk := ed25519.NewKeyFromSeed(d)
		if !sk.Public().(ed25519.PublicKey).Equal(pk) {
			return nil, nil, errors.New(`private key "d" does not match "x"`)
		}
		return pk, sk, nil
	}
	c := curveNamed(crv)
	if c == nil { // ParseJWK admits only the curves typeAlgs knows
		return nil, nil, unusable(`unsupported "crv"`)
	}
	size := c.size
	x, err := member(v, "x", size)
	if err != nil {
		return nil, nil, err
	}
	y, err := member(v, "y", size)
	if err != nil {
		return nil, nil, err
	}
	pk, err := NewECPublicKey(crv, append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, nil, errors.New("x and y are not a point on " + crv)
	}
	if !hasD {
		return pk, nil, nil
	}
	d, err := member(v, "d", size)
	if err != nil {
		return nil, nil, err
	}
	sk, err := NewECPrivateKey(crv, d)
	if err != nil {
		return nil, nil, errors.New(`member "d" is not a valid ` + crv + ` private key`)
	}
	if !sk.PublicKey().Equal(pk) {
		return nil, nil, errors.New(`private key "d" does not match "x" and "y"`)
	}
	return pk, sk, nil
}

// parseRSA reads an RSA public key (RFC 7518 §6.3.1).
func parseRSA(v jsonv.Result, p *Policy) (*RSAPublicKey, error) {
	n, err1 := member(v, "n", 0)
	e, err2 := member(v, "e", 0)
	// §6.3.1.2: "... MUST utilize the minimum number of octets needed to
	// represent the value"; §6.3.1.1 asks the same of the modulus.
	if err1 != nil || err2 != nil || n[0] == 0 || e[0] == 0 || len(e) > 4 {
		return nil, errors.New("an RSA key has a malformed n or e")
	}
	var exp uint64
	for _, b := range e {
		exp = exp<<8 | uint64(b)
	}
	lo, hi := max(p.MinRSABits, MinRSABits), p.MaxRSABits
	if hi == 0 {
		hi = defaultMaxRSABits
	}
	if nb := 8*len(n) - bits.LeadingZeros8(n[0]); nb < lo || nb > hi {
		return nil, errors.New("an RSA key has " + strconv.Itoa(nb) + " bits, not " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, errors.New("an RSA key has a bad exponent")
	}
	// An RSA modulus is the product of two odd primes (RFC 8017 §3.1).
	pub, err := NewRSAPublicKey(n, int(exp))
	if err != nil {
		return nil, errors.New("an RSA key has an even modulus")
	}
	return pub, nil
}

// ParseJWKS reads a JWK Set (RFC 7517 §5): a JSON object, each member
// once, whose "keys" is an array of JWKs. It returns the keys usable under
// p (at most p.MaxKeys; RFC 7517 §5: "Implementations SHOULD ignore JWKs
// within a JWK Set that use "kty" (key type) values that are not understood
// by them"), skipping unusable and malformed ones. A key with private
// members, where p does not allow them, refuses the whole set. It fails
// when no usable key remains.
func ParseJWKS(raw []byte, p *Policy) ([]*Key, error) {
	set, err := object(raw)
	if err != nil {
		return nil, errors.New("the JWK Set is malformed: " + err.Error())
	}
	keys := set.Get("keys")
	if !keys.IsArray() {
		return nil, errors.New(`the JWK Set has no "keys" array`)
	}
	limit := p.MaxKeys
	if limit == 0 {
		limit = 16
	}
	var out []*Key
	var first, fatal error
	n := 0
	keys.ForEach(func(_, v jsonv.Result) bool {
		if n++; n > maxSetMembers {
			return false
		}
		k, err := ParseJWK(v, p)
		switch {
		case err == nil:
			out = append(out, k)
		case err == errPrivate:
			fatal = err
			return false
		case first == nil:
			first = err
		}
		return len(out) < limit
	})
	if fatal != nil {
		return nil, fatal
	}
	if len(out) == 0 {
		if first == nil {
			first = errors.New("the set is empty")
		}
		return nil, errors.New("the JWK Set has no usable key: " + first.Error())
	}
	return out, nil
}

func hasPrivateMember(v jsonv.Result) bool {
	for _, m := range privateMembers {
		if v.Get(m).Exists() {
			return true
		}
	}
	return false
}
