package pushtest

import (
	"crypto/ecdh"
	"encoding/base64"
	"testing"
)

func b64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("%q: %v", s, err)
	}
	return b
}

// TestRFC8291Example decrypts the worked example of RFC 8291, Appendix A,
// and checks the intermediate values it lists, so that the stand-in's own
// decryption is known right before it judges the sender's messages.
func TestRFC8291Example(t *testing.T) {
	const (
		plaintext = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24"
		asPublic  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
		asPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
		uaPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
		uaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
		salt      = "DGv6ra1nlYgDCS1FRnbzlw"
		auth      = "BTBZMqHH6r4Tts7J_aSIgg"
		ecdhSec   = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"
		cek       = "oIhVW04MRdy2XN9CiKLxTg"
		nonce     = "4h_95klXJ5E_qnoN"
		body      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	)
	ua, err := ecdh.P256().NewPrivateKey(b64(t, uaPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()); got != uaPublic {
		t.Fatalf("ua_public %s, want %s", got, uaPublic)
	}
	as, err := ecdh.P256().NewPrivateKey(b64(t, asPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(as.PublicKey().Bytes()); got != asPublic {
		t.Fatalf("as_public %s, want %s", got, asPublic)
	}
	secret, _ := as.ECDH(ua.PublicKey())
	if got := base64.RawURLEncoding.EncodeToString(secret); got != ecdhSec {
		t.Fatalf("ecdh_secret %s, want %s", got, ecdhSec)
	}
	key, n, err := deriveKeys(ua, b64(t, asPublic), b64(t, salt), b64(t, auth))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(key); got != cek {
		t.Errorf("cek %s, want %s", got, cek)
	}
	if got := base64.RawURLEncoding.EncodeToString(n); got != nonce {
		t.Errorf("nonce %s, want %s", got, nonce)
	}
	plain, err := Decrypt(b64(t, body), ua, b64(t, auth))
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != string(b64(t, plaintext)) {
		t.Fatalf("plaintext %q, want %q", plain, b64(t, plaintext))
	}
	// One flipped bit of the record fails the tag.
	bad := b64(t, body)
	bad[len(bad)-1] ^= 1
	if _, err := Decrypt(bad, ua, b64(t, auth)); err == nil {
		t.Fatal("a tampered record decrypted")
	}
}
