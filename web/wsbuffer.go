package web

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
)

// readBufferSize is each WebSocket's read buffer. Clients send small
// frames: pongs, pings and subscribe messages of a few hundred bytes. The
// rest of a larger message is waited for by a goroutine of its own (see
// poller.done).
const readBufferSize = 512

// ownBuffer hands gorilla/websocket a read buffer of ours at Upgrade: with
// Upgrader.ReadBufferSize zero, gorilla reads through the hijacked reader
// it is given. Knowing what that buffer holds is what lets a WebSocket wait
// for bytes with no goroutine (see poller): bytes gorilla already buffered
// make the socket look idle to epoll.
type ownBuffer struct {
	http.ResponseWriter
	// br is the buffer gorilla reads through, set by Hijack.
	br *bufio.Reader
}

// Hijack hijacks the connection and swaps net/http's 4 KiB read buffer for
// a readBufferSize one. Bytes already buffered (a client that did not wait
// for the handshake's answer) keep net/http's reader, which gorilla then
// refuses.
func (w *ownBuffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err
	}
	w.br = bufio.NewReaderSize(conn, readBufferSize)
	return conn, bufio.NewReadWriter(w.br, brw.Writer), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *ownBuffer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// held is what the start of a WebSocket's read buffer holds.
type held int

const (
	// heldPartial: no complete frame yet; more bytes must arrive.
	heldPartial held = iota
	// heldPong: a complete, valid pong frame, answered by the reader itself.
	heldPong
	// heldPing: a complete, valid ping frame, answered by the reader itself.
	heldPing
	// heldMessage: gorilla reads it without waiting for the socket: a
	// complete message (its control frames in between too), a close frame,
	// or a frame gorilla refuses from its header alone.
	heldMessage
)

// WebSocket frame header bits (RFC 6455, section 5.2).
const (
	finBit   = 0x80
	rsvBits  = 0x70
	maskBit  = 0x80
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// scanHeld tells what the client frames at the start of b are, and for a
// pong or ping the length of that one frame. It follows gorilla's checks
// (conn.go, advanceFrame) so that heldMessage never makes gorilla wait: it
// refuses a bad header before reading past it, and reads a data frame's
// payload only once the header and mask are in.
func scanHeld(b []byte) (held, int) {
	// inMessage: a data frame without FIN was seen, so the message
	// continues; length adds up its payloads against the read limit.
	inMessage := false
	length := 0
	for off := 0; ; {
		f := b[off:]
		if len(f) < 2 {
			return heldPartial, 0
		}
		op := f[0] & 0x0f
		fin := f[0]&finBit != 0
		n := int(f[1] & 0x7f)
		control := op >= opClose
		switch {
		case f[0]&rsvBits != 0, f[1]&maskBit == 0:
			return heldMessage, 0 // refused: reserved bits, or an unmasked client frame
		case control && (op > opPong || !fin || n > 125):
			return heldMessage, 0 // refused: bad opcode, or a fragmented or long control frame
		case !control && op > opBinary:
			return heldMessage, 0 // refused: bad opcode
		case op == opCont && !inMessage, (op == opText || op == opBinary) && inMessage:
			return heldMessage, 0 // refused: a continuation with no message, or a message inside one
		}
		header := 2
		switch n {
		case 126:
			if len(f) < 4 {
				return heldPartial, 0
			}
			n, header = int(binary.BigEndian.Uint16(f[2:])), 4
		case 127:
			if len(f) < 10 {
				return heldPartial, 0
			}
			u := binary.BigEndian.Uint64(f[2:])
			if u > maxMessageSize {
				return heldMessage, 0 // refused: over the read limit
			}
			n, header = int(u), 10
		}
		header += 4 // the mask key
		if len(f) < header {
			return heldPartial, 0
		}
		if !control {
			if length += n; length > maxMessageSize {
				return heldMessage, 0 // refused: over the read limit
			}
		}
		if len(f) < header+n {
			return heldPartial, 0
		}
		switch {
		case op == opClose:
			return heldMessage, 0
		case control && inMessage:
			// gorilla answers it while it reads the message.
		case op == opPong:
			return heldPong, header + n
		case op == opPing:
			return heldPing, header + n
		case fin:
			return heldMessage, 0
		default:
			inMessage = true
		}
		off += header + n
	}
}

// unmask returns the payload of the complete control frame of n bytes at
// the start of b, unmasked: two header bytes (no extended length, at most
// 125 bytes), the mask key, the payload.
func unmask(b []byte, n int) []byte {
	const header = 6
	key := b[2:header]
	payload := make([]byte, n-header)
	for i := range payload {
		payload[i] = b[header+i] ^ key[i%4]
	}
	return payload
}
