//go:build wasm

package main

import (
	"errors"
	"strconv"
	"unsafe"
)

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, detailData *byte, detailSize uint32,
	bodyData *byte, bodySize uint32, headersData *byte, headersSize uint32, grpcStatus int32) uint32

// sendReply sends a local reply with the SDK's host call, but with the
// header map serialized once per prebuilt reply (replyHeaders) instead of
// on every request.
func (p *pluginContext) sendReply(status int, headers [][2]string, body []byte) error {
	ser := p.replies.serialized(headers)
	var bp *byte
	if len(body) > 0 {
		bp = unsafe.SliceData(body)
	}
	if st := proxySendLocalResponse(uint32(status), nil, 0, bp, uint32(len(body)), unsafe.SliceData(ser), uint32(len(ser)), -1); st != 0 {
		return errors.New("proxy_send_local_response: status " + strconv.Itoa(int(st)))
	}
	return nil
}
