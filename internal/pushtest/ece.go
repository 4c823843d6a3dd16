package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Decrypt opens a Web Push message body encrypted for the user agent key
// uaPrivate and authentication secret auth, as RFC 8291 sets out: the
// aes128gcm content coding of RFC 8188 (a header of salt, record size and
// the sender's public key, then one record), keyed by ECDH on P-256 and
// HKDF-SHA-256. It returns the plaintext without its padding.
func Decrypt(body []byte, uaPrivate *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	// Header: salt (16) | rs (4) | idlen (1) | keyid (idlen).
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen {
		return nil, errors.New("body shorter than its key id")
	}
	asPublic, record := body[21:21+idlen], body[21+idlen:]
	if rs < 18 {
		return nil, fmt.Errorf("record size %d below the minimum of 18", rs)
	}
	if uint32(len(record)) > rs {
		return nil, fmt.Errorf("%d bytes of records exceed one record of %d: push messages have one", len(record), rs)
	}
	key, nonce, err := deriveKeys(uaPrivate, asPublic, salt, auth)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	// Padding: the last record ends with the delimiter 0x02, then zeros.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter (0x02) before the padding")
	}
	return plain[:end], nil
}

// deriveKeys computes the content encryption key and nonce (RFC 8291,
// section 3.4, and RFC 8188, section 2.2).
func deriveKeys(uaPrivate *ecdh.PrivateKey, asPublic, salt, auth []byte) (key, nonce []byte, err error) {
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, nil, fmt.Errorf("sender key: %w", err)
	}
	secret, err := uaPrivate.ECDH(as)
	if err != nil {
		return nil, nil, err
	}
	// key_info = "WebPush: info" || 0x00 || ua_public || as_public
	info := append([]byte("WebPush: info\x00"), uaPrivate.PublicKey().Bytes()...)
	info = append(info, asPublic...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	if err != nil {
		return nil, nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, nil, err
	}
	if key, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16); err != nil {
		return nil, nil, err
	}
	if nonce, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12); err != nil {
		return nil, nil, err
	}
	return key, nonce, nil
}
