package authcore

import (
	"sync"
	"time"
)

// Work for trusted issuers that concurrent requests share, per engine (so
// per proxy-wasm VM): one JWK Set refresh per issuer, one introspection per
// token. The first request leads and issues the Calls; the others get a
// [Wait] and are woken through [Engine.Woken] and [Engine.Continue] exactly
// as for a shared CIMD fetch (cimd_inflight.go describes the host's side).
// Tickets of this registry carry issuerTicketBit, so Continue and Cancel
// know whose they are.
//
// A flight whose leader never resumes (its stream was reset and Envoy
// cancelled its callout) is given up at its deadline: its waiters then run
// their continuation with gaveUp set and start over, the first of them
// leading a new flight.

const (
	issuerTicketBit      = uint64(1) << 62
	issuerMaxWaiters     = 1024
	issuerMaxPerFlight   = 256
	issuerFlightDeadline = 2 * time.Second // added to the calls' own timeouts
)

// issuerState is the engine's state for trusted issuers; the zero value is
// ready. mu guards every field and is never held while a continuation runs.
type issuerState struct {
	mu sync.Mutex
	// keys holds each issuer's key set as this VM knows it (issuer_keys.go).
	keys map[*TrustedIssuer]*issuerKeyState
	// inactive remembers tokens an introspection said are not active, until
	// the time given (introspect.go).
	inactive map[string]time.Time

	flights map[string]*issuerFlight
	waiters map[uint64]*issuerWaiter
	ready   []uint64
	next    uint64
}

// issuerFlight is one shared piece of work; its result fields are set when
// it lands.
type issuerFlight struct {
	deadline time.Time
	waiters  []uint64
	landed   bool
	gaveUp   bool

	keys   *issuerKeySet      // a key refresh: the keys to use (may be nil)
	claims *AccessTokenClaims // an introspection: the active token's claims
	reason string             // why the token is refused, or ""
	err    *Error             // the work could not be done
}

type issuerWaiter struct {
	key  string
	f    *issuerFlight
	then func(*issuerFlight) Outcome
}

// join returns the flight in progress under key and a ticket for a waiter
// on it, or a new flight that the caller leads (ticket 0). A full registry
// yields (nil, 0): the caller must do without sharing. Called with mu held.
func (s *issuerState) join(key string, now time.Time, timeout time.Duration, then func(*issuerFlight) Outcome) (*issuerFlight, uint64) {
	if f := s.flights[key]; f != nil && now.Before(f.deadline) {
		if len(f.waiters) >= issuerMaxPerFlight || len(s.waiters) >= issuerMaxWaiters {
			return nil, 0
		}
		if s.waiters == nil {
			s.waiters = map[uint64]*issuerWaiter{}
		}
		s.next++
		t := issuerTicketBit | s.next
		s.waiters[t] = &issuerWaiter{key: key, f: f, then: then}
		f.waiters = append(f.waiters, t)
		return f, t
	}
	if s.flights == nil {
		s.flights = map[string]*issuerFlight{}
	}
	f := &issuerFlight{deadline: now.Add(timeout + issuerFlightDeadline)}
	if old := s.flights[key]; old != nil {
		// Past its deadline: the new leader inherits its waiters.
		f.waiters, old.waiters = old.waiters, nil
		for _, t := range f.waiters {
			if w := s.waiters[t]; w != nil {
				w.f = f
			}
		}
	}
	s.flights[key] = f
	return f, 0
}

// land ends flight f (its result fields already set) and readies its
// waiters. Called with mu held.
func (s *issuerState) land(key string, f *issuerFlight) {
	if s.flights[key] == f {
		delete(s.flights, key)
	}
	f.landed = true
	s.ready = append(s.ready, f.waiters...)
	f.waiters = nil
}

// woken gives up flights past their deadline and returns the tickets that
// can continue. Called from [Engine.Woken].
func (s *issuerState) woken(now time.Time) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, f := range s.flights {
		if now.Before(f.deadline) {
			continue
		}
		delete(s.flights, key)
		f.landed, f.gaveUp = true, true
		s.ready = append(s.ready, f.waiters...)
		f.waiters = nil
	}
	out := s.ready
	s.ready = nil
	return out
}

// continueIssuerWait runs a woken waiter's continuation.
func (e *Engine) continueIssuerWait(ticket uint64) Outcome {
	s := &e.issuers
	s.mu.Lock()
	w := s.waiters[ticket]
	if w != nil && w.f.landed {
		delete(s.waiters, ticket)
	}
	s.mu.Unlock()
	switch {
	case w == nil:
		e.log(LogError, "mcpgate: Continue of an unknown ticket")
		return ServerError()
	case !w.f.landed:
		return Wait{Ticket: ticket}
	}
	return w.then(w.f)
}

// cancelIssuerWait forgets a parked waiter whose stream ended.
func (e *Engine) cancelIssuerWait(ticket uint64) {
	s := &e.issuers
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiters[ticket]
	if w == nil {
		return
	}
	delete(s.waiters, ticket)
	w.f.waiters = removeTicket(w.f.waiters, ticket)
}

// removeTicket removes ticket from a flight's waiters.
func removeTicket(waiters []uint64, ticket uint64) []uint64 {
	for i, t := range waiters {
		if t == ticket {
			return append(waiters[:i], waiters[i+1:]...)
		}
	}
	return waiters
}
