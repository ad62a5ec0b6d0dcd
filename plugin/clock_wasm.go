//go:build wasm

package main

import "time"

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(clockID uint32, precision uint64, time *uint64) uint32

// clockRealtime is WASI's CLOCKID_REALTIME.
const clockRealtime = 0

// wallClock is the engine's clock in the filter: the wall clock in one
// host call. time.Now reads the wall clock and the monotonic clock, two
// host calls, and the engine compares times with the wall clock (token
// lifetimes are wall-clock times); its durations (cache ages, rate-limit
// windows) are coarse enough that a step of the wall clock only makes an
// entry expire early or late by the step. If the host refuses the call,
// it falls back to time.Now.
func wallClock() time.Time {
	if clockTimeGet(clockRealtime, 1, &out.ns) != 0 { // out: abi_wasm.go
		return time.Now()
	}
	return time.Unix(0, int64(out.ns))
}
