//go:build !wasm

package main

import "time"

// wallClock is the engine's clock in the native build (the SDK's
// emulator): time.Now.
func wallClock() time.Time { return time.Now() }
