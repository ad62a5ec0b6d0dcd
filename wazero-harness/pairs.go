package harness

import (
	"encoding/binary"
	"errors"
	"strings"
)

// errBadPairs reports a header map that does not follow the proxy-wasm
// serialization format.
var errBadPairs = errors.New("harness: malformed serialized header map")

// encodePairs serializes pairs in the proxy-wasm format: a little-endian
// uint32 count, then a (key size, value size) uint32 pair per entry, then
// every key and value followed by a NUL byte.
func encodePairs(pairs [][2]string) []byte {
	out := make([]byte, pairsSize(pairs))
	encodePairsInto(out, pairs)
	return out
}

// pairsSize returns the size of the serialization of pairs.
func pairsSize(pairs [][2]string) int {
	size := 4
	for _, p := range pairs {
		size += 8 + len(p[0]) + 1 + len(p[1]) + 1
	}
	return size
}

// encodePairsInto writes the serialization of pairs into out, which is
// pairsSize(pairs) bytes long and need not be zeroed (module memory).
func encodePairsInto(out []byte, pairs [][2]string) {
	binary.LittleEndian.PutUint32(out, uint32(len(pairs)))
	sizes := out[4:]
	data := out[4+8*len(pairs):]
	for i, p := range pairs {
		binary.LittleEndian.PutUint32(sizes[8*i:], uint32(len(p[0])))
		binary.LittleEndian.PutUint32(sizes[8*i+4:], uint32(len(p[1])))
		n := copy(data, p[0])
		data[n] = 0
		data = data[n+1:]
		n = copy(data, p[1])
		data[n] = 0
		data = data[n+1:]
	}
}

// decodePairs parses the proxy-wasm serialization written by encodePairs (and
// by the SDK's SerializeMap). It copies the strings out of b.
func decodePairs(b []byte) ([][2]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, errBadPairs
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 0 || n > (len(b)-4)/8 {
		return nil, errBadPairs
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	out := make([][2]string, n)
	for i := 0; i < n; i++ {
		ks := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vs := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if ks < 0 || vs < 0 || ks+1 > len(data) {
			return nil, errBadPairs
		}
		out[i][0] = string(data[:ks])
		data = data[ks+1:]
		if vs+1 > len(data) {
			return nil, errBadPairs
		}
		out[i][1] = string(data[:vs])
		data = data[vs+1:]
	}
	return out, nil
}

// headerMap is an ordered list of header pairs with lower-case keys, like an
// Envoy header map. Multiple values of one header are separate entries.
type headerMap [][2]string

// get returns the first value of key, as Envoy's proxy_get_header_map_value.
func (m headerMap) get(key string) (string, bool) {
	return m.lookup(strings.ToLower(key))
}

// lookup is get for a key already in lower case (the host's own lookups).
func (m headerMap) lookup(key string) (string, bool) {
	for _, p := range m {
		if p[0] == key {
			return p[1], true
		}
	}
	return "", false
}

// values returns every value of key in order.
func (m headerMap) values(key string) []string {
	key = strings.ToLower(key)
	var out []string
	for _, p := range m {
		if p[0] == key {
			out = append(out, p[1])
		}
	}
	return out
}

// add appends an entry.
func (m *headerMap) add(key, value string) {
	*m = append(*m, [2]string{strings.ToLower(key), value})
}

// replace sets the value of the first entry of key and removes the others,
// or appends an entry if key is absent.
func (m *headerMap) replace(key, value string) {
	key = strings.ToLower(key)
	out := (*m)[:0]
	found := false
	for _, p := range *m {
		if p[0] == key {
			if found {
				continue
			}
			found = true
			p[1] = value
		}
		out = append(out, p)
	}
	if !found {
		out = append(out, [2]string{key, value})
	}
	*m = out
}

// remove deletes every entry of key.
func (m *headerMap) remove(key string) {
	key = strings.ToLower(key)
	out := (*m)[:0]
	for _, p := range *m {
		if p[0] != key {
			out = append(out, p)
		}
	}
	*m = out
}

// set replaces the whole map, lower-casing keys as Envoy does.
func (m *headerMap) set(pairs [][2]string) {
	out := make(headerMap, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, [2]string{strings.ToLower(p[0]), p[1]})
	}
	*m = out
}

// clone returns an independent copy.
func (m headerMap) clone() headerMap {
	return append(headerMap(nil), m...)
}
