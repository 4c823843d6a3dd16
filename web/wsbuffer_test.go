package web

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// clientFrame is a masked client frame as a browser sends it: fin, opcode,
// and the payload masked with a fixed key.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= finBit
	}
	var b []byte
	switch n := len(payload); {
	case n <= 125:
		b = []byte{b0, maskBit | byte(n)}
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16([]byte{b0, maskBit | 126}, uint16(n))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, maskBit | 127}, uint64(n))
	}
	key := []byte{1, 2, 3, 4}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func TestScanHeld(t *testing.T) {
	text := clientFrame(true, opText, []byte(`{"type":"ping"}`))
	pong := clientFrame(true, opPong, []byte("hi"))
	ping := clientFrame(true, opPing, []byte("yo"))
	first := clientFrame(false, opText, []byte(`{"type":`))
	rest := clientFrame(true, opCont, []byte(`"ping"}`))
	long := clientFrame(true, opText, bytes.Repeat([]byte("a"), 300))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		b    []byte
		want held
		n    int
	}{
		// Nothing buffered.
		{"Empty", nil, heldPartial, 0},
		// One header byte only.
		{"OneByte", text[:1], heldPartial, 0},
		// The header without the whole mask key.
		{"NoMaskKey", text[:4], heldPartial, 0},
		// A message cut short.
		{"CutMessage", text[:len(text)-1], heldPartial, 0},
		// A whole message.
		{"Message", text, heldMessage, 0},
		// A message and the start of the next: gorilla reads the first.
		{"MessageThenCut", cat(text, text[:3]), heldMessage, 0},
		// A pong on its own: the reader answers it itself.
		{"Pong", pong, heldPong, len(pong)},
		// A pong then a message: the pong first.
		{"PongThenMessage", cat(pong, text), heldPong, len(pong)},
		// A ping on its own.
		{"Ping", ping, heldPing, len(ping)},
		// A pong cut short.
		{"CutPong", pong[:len(pong)-1], heldPartial, 0},
		// A close frame: gorilla answers it and ends the connection.
		{"Close", clientFrame(true, opClose, []byte{3, 232}), heldMessage, 0},
		// A fragmented message, whole, with a pong in between.
		{"Fragmented", cat(first, pong, rest), heldMessage, 0},
		// A fragmented message whose last frame has not come.
		{"FragmentedCut", cat(first, pong), heldPartial, 0},
		// A message with a 16-bit length, whole and cut.
		{"LongMessage", long, heldMessage, 0},
		{"LongMessageCut", long[:200], heldPartial, 0},
		// Over the read limit: gorilla refuses it from its header.
		{"OverLimit", clientFrame(true, opText, make([]byte, maxMessageSize+1))[:20], heldMessage, 0},
		// A 64-bit length over the limit.
		{"OverLimit64", []byte{finBit | opText, maskBit | 127, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}, heldMessage, 0},
		// Refused from the first two bytes: unmasked, reserved bits, bad
		// opcode, long or fragmented control frame, stray continuation.
		{"Unmasked", []byte{finBit | opText, 2, 'h', 'i'}, heldMessage, 0},
		{"Reserved", []byte{finBit | 0x40 | opText, maskBit | 2}, heldMessage, 0},
		{"BadOpcode", []byte{finBit | 0x3, maskBit}, heldMessage, 0},
		{"LongControl", []byte{finBit | opPing, maskBit | 126}, heldMessage, 0},
		{"FragmentedControl", []byte{opPong, maskBit}, heldMessage, 0},
		{"StrayContinuation", rest, heldMessage, 0},
		// A new message inside a fragmented one.
		{"MessageInMessage", cat(first, text), heldMessage, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, n := scanHeld(tc.b)
			if got != tc.want || n != tc.n {
				t.Errorf("scanHeld = %v, %d; want %v, %d", got, n, tc.want, tc.n)
			}
		})
	}
	if got := string(unmask(ping, len(ping))); got != "yo" {
		t.Errorf("unmask = %q, want yo", got)
	}
}
