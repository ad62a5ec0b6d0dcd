package authcore

import "sync"

// vmLock is the mutex of a cache the guard reads on every request. A host
// that calls the engine from one thread only (Options.SingleThreaded: a
// proxy-wasm VM) switches it off: in wasm every atomic operation of a
// sync.Mutex is a function call, and Lock and Unlock on the cached-token
// path were 14 of its 97 calls. Natively it is a plain sync.Mutex.
type vmLock struct {
	mu  sync.Mutex
	off bool
}

// Lock locks l unless it is switched off.
func (l *vmLock) Lock() {
	if !l.off {
		l.mu.Lock()
	}
}

// Unlock unlocks l unless it is switched off.
func (l *vmLock) Unlock() {
	if !l.off {
		l.mu.Unlock()
	}
}
