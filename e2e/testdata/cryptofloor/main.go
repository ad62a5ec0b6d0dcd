// Command cryptofloor is a proxy-wasm test filter that links the SDK and
// every cryptographic primitive mcpgate's filter must carry for hosts
// without signature functions, the way the filter carries them, and
// nothing else: the P-256 and P-384 groups (filippo.io/nistec) and
// arithmetic modulo the group order and an RSA modulus (filippo.io/bigmod),
// on which authcore/internal/jose builds ECDSA and RSA; Ed25519, AES-GCM,
// HMAC and HKDF over SHA-2, and the system random source from the standard
// library. It does no work a test looks at; its size (e2e
// BenchmarkCompileFilter, "cryptofloor") is the floor under which a Go
// filter with these algorithms cannot go, for the size goal of issue 14.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"

	"filippo.io/bigmod"
	"filippo.io/nistec"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

// OnPluginStart runs every primitive once over the configuration bytes, so
// the linker keeps each of them.
func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	ok := true
	h256, h384, h512 := sha256.Sum256(cfg), sha512.Sum384(cfg), sha512.Sum512(cfg)
	// The group operations ECDSA signing and verification use: k×G, u×Q
	// and their sum, with points read from the configuration.
	if q, err := nistec.NewP256Point().SetBytes(cfg); err == nil {
		g, _ := nistec.NewP256Point().ScalarBaseMult(h256[:])
		r, _ := nistec.NewP256Point().ScalarMult(q, h256[:])
		x, err := g.Add(g, r).BytesX()
		ok = ok && err == nil && len(x) > 0
	}
	if q, err := nistec.NewP384Point().SetBytes(cfg); err == nil {
		g, _ := nistec.NewP384Point().ScalarBaseMult(h384[:])
		r, _ := nistec.NewP384Point().ScalarMult(q, h384[:])
		x, err := g.Add(g, r).BytesX()
		ok = ok && err == nil && len(x) > 0
	}
	// Scalar arithmetic mod n and RSA's s^e mod n, over a modulus from the
	// configuration.
	if m, err := bigmod.NewModulus(append(h512[:], 1)); err == nil {
		x, err := bigmod.NewNat().SetOverflowingBytes(h256[:], m)
		if err == nil {
			inv, _ := bigmod.NewNat().InverseVarTime(x, m)
			y := bigmod.NewNat().Exp(x, h256[:], m).Mul(inv, m).Add(x, m)
			ok = ok && len(bigmod.NewNat().ExpShortVarTime(y, 65537, m).Bytes(m)) > 0
		}
	}
	ek := ed25519.NewKeyFromSeed(h256[:])
	ok = ok && ed25519.Verify(ek.Public().(ed25519.PublicKey), cfg, ed25519.Sign(ek, cfg))
	key, err := hkdf.Key(sha256.New, h256[:], nil, "cryptofloor", 32)
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	_, err = aead.Open(nil, nonce, aead.Seal(nil, nonce, cfg, nil), nil)
	mac := hmac.New(sha256.New, key)
	mac.Write(cfg)
	ok = ok && err == nil && hmac.Equal(mac.Sum(nil), mac.Sum(nil))
	if !ok {
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func init() { proxywasm.SetVMContext(&vm{}) }

func main() {}
