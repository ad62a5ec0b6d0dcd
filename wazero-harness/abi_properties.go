package harness

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"strconv"
	"strings"
)

// Names the harness gives to Envoy configuration objects in properties.
const (
	upstreamClusterName = "upstream"
	routeName           = "default"
	nodeID              = "mcpgate-harness"
)

// property returns the value of a property path (segments separated by
// NUL, as the SDK serializes it) encoded as Envoy encodes it: strings as
// raw bytes, integers as 8-byte little-endian, timestamps as 8-byte
// little-endian nanoseconds since the epoch, booleans as one byte, maps as
// serialized pairs. Lookup order: values set by proxy_set_property on the
// stream, Options.Properties (by dotted path), the stream's attributes,
// the plugin's attributes. vm.mu must be held.
func (vm *VM) property(path string) ([]byte, bool) {
	s := vm.stream()
	if s != nil {
		if v, ok := s.props[path]; ok {
			return v, true
		}
	}
	dotted := strings.ReplaceAll(path, "\x00", ".")
	if v, ok := vm.h.opts.Properties[dotted]; ok {
		return v, true
	}
	if s != nil {
		if v, ok := s.attribute(dotted); ok {
			return v, true
		}
	}
	switch dotted {
	case "plugin_root_id":
		return []byte(vm.h.opts.RootID), true
	case "plugin_name":
		if vm.h.opts.RootID == "" {
			return []byte("harness"), true
		}
		return []byte(vm.h.opts.RootID), true
	case "plugin_vm_id":
		return []byte(vm.h.opts.VMID), true
	case "node.id":
		return []byte(nodeID), true
	}
	return nil, false
}

// attribute returns the stream attributes Envoy documents under request.*,
// response.*, source.*, destination.*, connection.* and xds.*. vm.mu must
// be held.
//
// As in Envoy, the attributes taken from request headers (request.path,
// .host, .method, .id, ...) exist only while the filter can see the
// request headers (until it lets them through) and during proxy_on_log;
// request.headers is then an empty map. The same holds for
// response.headers. request.duration exists during proxy_on_log.
func (s *stream) attribute(path string) ([]byte, bool) {
	reqVisible := s.inLog || s.req.headersOpen
	reqHeaders := s.req.current()
	if !reqVisible {
		reqHeaders = nil
	}
	header := func(name string) ([]byte, bool) {
		v, ok := reqHeaders.get(name)
		return []byte(v), ok
	}
	switch path {
	case "source.address":
		return []byte(s.r.RemoteAddr), true
	case "source.port":
		return portOf(s.r.RemoteAddr)
	case "destination.address":
		addr := s.localAddress()
		if addr == "" {
			return nil, false
		}
		return []byte(addr), true
	case "destination.port":
		return portOf(s.localAddress())
	case "request.path":
		return header(":path")
	case "request.url_path":
		p, ok := header(":path")
		if i := strings.IndexByte(string(p), '?'); i >= 0 {
			p = p[:i]
		}
		return p, ok
	case "request.query":
		p, ok := header(":path")
		if !ok {
			return nil, false
		}
		if i := strings.IndexByte(string(p), '?'); i >= 0 {
			return p[i+1:], true
		}
		return []byte{}, true
	case "request.host":
		return header(":authority")
	case "request.scheme":
		return header(":scheme")
	case "request.method":
		return header(":method")
	case "request.headers":
		return encodeHeaderAttribute(reqHeaders), true
	case "request.referer":
		return header("referer")
	case "request.useragent":
		return header("user-agent")
	case "request.id":
		return header("x-request-id")
	case "request.time":
		return int64Bytes(s.start.UnixNano()), true
	case "request.protocol":
		return []byte(protocolName(s.r)), true
	case "request.duration":
		if !s.inLog {
			return nil, false
		}
		return int64Bytes(int64(s.elapsed())), true
	case "request.size":
		if v, ok := header("content-length"); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, false
			}
			return int64Bytes(n), true
		}
		return int64Bytes(int64(s.reqBodySize)), true
	case "response.code":
		if !s.resp.active {
			return nil, false
		}
		code, _ := strconv.Atoi(headerValue(s.resp.current(), ":status"))
		return int64Bytes(int64(code)), true
	case "response.code_details":
		if !s.resp.active {
			return nil, false
		}
		return []byte(s.respDetails), true
	case "response.headers":
		if !s.resp.active || !(s.inLog || s.resp.headersOpen) {
			return encodePairs(nil), true
		}
		return encodeHeaderAttribute(s.resp.current()), true
	case "response.size":
		if !s.resp.active {
			return nil, false
		}
		return int64Bytes(int64(s.resp.fwdBytes + len(s.resp.body))), true
	case "connection.mtls":
		return boolBytes(s.r.TLS != nil && len(s.r.TLS.PeerCertificates) > 0), true
	case "connection.requested_server_name":
		if s.r.TLS == nil {
			return []byte{}, true
		}
		return []byte(s.r.TLS.ServerName), true
	case "connection.tls_version":
		if s.r.TLS == nil {
			return []byte{}, true
		}
		return []byte(tlsVersionName(s.r.TLS.Version)), true
	case "xds.cluster_name", "cluster_name":
		return []byte(upstreamClusterName), true
	case "xds.route_name", "route_name":
		return []byte(routeName), true
	}
	return nil, false
}

// headerValue returns the first value of key (in lower case) in m or "".
func headerValue(m headerMap, key string) string {
	v, _ := m.lookup(key)
	return v
}

// encodeHeaderAttribute encodes a header map the way Envoy's CEL map of
// headers serializes: one pair per name, repeated values joined by ",".
func encodeHeaderAttribute(m headerMap) []byte {
	var out [][2]string
	index := map[string]int{}
	for _, p := range m {
		if strings.HasPrefix(p[0], ":") {
			continue
		}
		if i, ok := index[p[0]]; ok {
			out[i][1] += "," + p[1]
			continue
		}
		index[p[0]] = len(out)
		out = append(out, p)
	}
	return encodePairs(out)
}

func int64Bytes(v int64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(v))
	return b
}

func boolBytes(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// portOf returns the port of a host:port address as an 8-byte integer.
func portOf(addr string) ([]byte, bool) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, false
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, false
	}
	return int64Bytes(int64(n)), true
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return ""
}

// proxyGetProperty implements proxy_get_property(path_ptr, path_size,
// value_ptr_ptr, value_size_ptr). Unknown paths are NotFound.
func proxyGetProperty(vm *VM, stack []uint64) uint32 {
	path, ok := vm.readString(u32(stack, 0), u32(stack, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	v, found := vm.property(path)
	if !found {
		return statusNotFound
	}
	return vm.returnBytes(v, u32(stack, 2), u32(stack, 3))
}

// proxySetProperty implements proxy_set_property(path_ptr, path_size,
// value_ptr, value_size): the value is kept on the stream (Envoy keeps it
// in the stream's filter state) and read back by proxy_get_property with
// the same path. Outside a stream it is NotFound, as in Envoy.
func proxySetProperty(vm *VM, stack []uint64) uint32 {
	path, ok1 := vm.readString(u32(stack, 0), u32(stack, 1))
	value, ok2 := vm.readCopy(u32(stack, 2), u32(stack, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	s := vm.stream()
	if s == nil {
		return statusNotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[path] = value
	return statusOK
}
