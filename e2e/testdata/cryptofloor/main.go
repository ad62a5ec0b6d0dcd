// Command cryptofloor is a proxy-wasm test filter that links the SDK and
// every standard-library cryptographic primitive mcpgate's filter must
// carry for hosts without signature functions, and nothing else: ECDSA
// P-256 and P-384 signing and verification, RSA PKCS #1 v1.5 and PSS
// verification, Ed25519, AES-GCM, HMAC and HKDF over SHA-2, and the system
// random source. It does no work a test looks at; its size (e2e
// BenchmarkCompileFilter, "cryptofloor") is the floor under which a Go
// filter with these algorithms cannot go, for the size goal of issue 14.
package main

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"

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
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		// A private scalar from the configuration, as the filter reads
		// its signing key; signing goes through crypto.Signer as jose does.
		raw := h384[:(c.Params().BitSize+7)/8]
		k, err := ecdsa.ParseRawPrivateKey(c, raw)
		if err != nil {
			continue
		}
		var signer crypto.Signer = k
		sig, err := signer.Sign(rand.Reader, h256[:], crypto.SHA256)
		ok = ok && err == nil && len(sig) > 0
		pub, _ := k.PublicKey.Bytes()
		if pk, err := ecdsa.ParseUncompressedPublicKey(c, pub); err == nil {
			ok = ok && !ecdsa.Verify(pk, h256[:], new(big.Int).SetBytes(h256[:]), new(big.Int).SetBytes(h384[:]))
		}
	}
	// RSA is verified only (the filter signs with EC or Ed25519 keys).
	pk := &rsa.PublicKey{N: new(big.Int).SetBytes(append(h512[:], h512[:]...)), E: 65537}
	ok = ok && rsa.VerifyPKCS1v15(pk, crypto.SHA256, h256[:], h512[:]) != nil
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	ok = ok && rsa.VerifyPSS(pk, crypto.SHA512, h512[:], h512[:], pss) != nil
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
