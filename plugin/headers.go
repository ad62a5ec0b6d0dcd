package main

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

// errHeaderMap reports a serialized header map that does not parse.
var errHeaderMap = errors.New("malformed header map from the host")

// parseHeaderPairs decodes proxy-wasm's serialized header map: a
// little-endian uint32 count, then a (name length, value length) uint32
// pair per field, then each name and value followed by a NUL byte.
//
// The strings are views of b, not copies: b must never be written again
// (requestHeaders hands over the buffer the host filled, which nothing
// else references). A view keeps all of b alive, which for a header map
// is a few hundred bytes per request.
//
// The pairs are stored in dst's array when it has room (the stream's own
// array, allocated with it), and in a new one otherwise.
func parseHeaderPairs(dst [][2]string, b []byte) ([][2]string, error) {
	if len(b) < 4 {
		return nil, errHeaderMap
	}
	n := binary.LittleEndian.Uint32(b)
	// Each field takes 8 bytes of sizes and at least 2 NUL bytes.
	if uint64(n)*10 > uint64(len(b)-4) {
		return nil, errHeaderMap
	}
	sizes := b[4 : 4+n*8]
	data := b[4+n*8:]
	out := dst[:0]
	if uint64(cap(out)) < uint64(n) {
		out = make([][2]string, n)
	}
	out = out[:n]
	for i := range out {
		for j := 0; j < 2; j++ {
			l := binary.LittleEndian.Uint32(sizes[i*8+j*4:])
			if uint64(l) >= uint64(len(data)) || data[l] != 0 {
				return nil, errHeaderMap
			}
			if l > 0 {
				out[i][j] = unsafe.String(&data[0], l)
			}
			data = data[l+1:]
		}
	}
	return out, nil
}

// serializeHeaderPairs is proxy-wasm's header map encoding, the inverse of
// parseHeaderPairs.
func serializeHeaderPairs(h [][2]string) []byte {
	n := 4
	for _, kv := range h {
		n += 10 + len(kv[0]) + len(kv[1])
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	for _, kv := range h {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range h {
		b = append(append(b, kv[0]...), 0)
		b = append(append(b, kv[1]...), 0)
	}
	return b
}
