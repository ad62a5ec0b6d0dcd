package authcore

import (
	"container/list"
	"sync"
	"time"
)

// Per-engine CIMD state: the document cache, the per-URL fetch rate limit,
// and the registry of fetches in flight that lets concurrent authorizations
// for one client_id share a single fetch.
//
// # Sharing one fetch
//
// A proxy-wasm filter has no way to block a request on another request's
// callout, so sharing needs a small contract with the host: the [Wait]
// outcome and [Engine.Woken], [Engine.Continue] and [Engine.Cancel] (the
// contract is on [Wait]).
//
// The first request for a URL leads: it issues the DoH and fetch Calls
// itself, and the flight records a deadline (three call timeouts plus
// two seconds in pinned mode). When the leader's last Resume runs, the result
// (document or error, never cached if an error) is handed to every waiter
// and their tickets become ready. If the leader never resumes (its stream
// was reset, so Envoy cancelled its callout; the host failed to dispatch;
// anything), Woken gives the flight up once its deadline passes and wakes
// its waiters to retry: the first to continue leads a new fetch (subject
// to the rate limit), the others wait on it. A late Resume of a given-up
// leader still answers its own request, and may fill the cache, but wakes
// no one. A request that finds a flight past its deadline leads a new one
// and inherits the old waiters.
//
// Bounds: at most cimdMaxWaitersPerURL waiters per flight and cimdMaxWaiters
// in all; beyond that a request gets temporarily_unavailable at once. All of
// this is per engine, so per proxy-wasm VM (Envoy worker): N concurrent
// authorizations spread over W workers make at most W fetches.
//

// Wait is an [Outcome]: the request waits for work another request started
// (today: a client metadata document fetch, shared by every authorization
// for one client_id). The host's side of the contract:
//
//   - On Wait{Ticket}, the engine has parked the request's continuation
//     under Ticket. The host pauses the stream (as for a [Call]) and records
//     ticket → stream. It does nothing else for it until the ticket comes out
//     of [Engine.Woken].
//   - [Engine.Woken] returns the tickets whose wait is over, each once. The
//     host calls it after applying any outcome that came from a Call's
//     Resume (that is when a shared fetch completes) and periodically, from
//     a timer (proxy-wasm: the root context's OnTick, every 500 ms or so;
//     that is when a fetch whose leader vanished is given up).
//   - For each ticket, the host makes that stream current again
//     (proxy-wasm: SetEffectiveContext(contextID)) and applies
//     [Engine.Continue](ticket) exactly as it applies the outcome of
//     [Engine.Handle] or a Resume: the result may be a [Reply], a [Forward],
//     a Call (the waiter now leads a fetch of its own) or another Wait.
//   - If a parked stream ends first (client reset, Envoy stream timeout:
//     OnHttpStreamDone), the host calls [Engine.Cancel](ticket). A ticket
//     that comes out of Woken for a stream that no longer exists must be
//     cancelled too.
//
// Natively, authhttp blocks the request's goroutine on a channel that the
// goroutine running Woken signals; the engine is safe for concurrent use.
type Wait struct {
	// Ticket identifies the parked continuation; never 0.
	Ticket uint64
}

func (Wait) isOutcome() {}

// Bounds of the per-engine CIMD state.
const (
	cimdCacheEntries     = 512
	cimdRateEntries      = 4096
	cimdMaxWaitersPerURL = 64
	cimdMaxWaiters       = 1024
	cimdFlightGrace      = 2 * time.Second
)

// cimdState is the engine's CIMD state; the zero value is ready. Its mutex
// guards every field and is never held while a continuation runs.
type cimdState struct {
	mu sync.Mutex

	// cache: URL -> element of lru holding a *cimdCacheEntry; front is the
	// most recently used.
	cache map[string]*list.Element
	lru   list.List

	// rate: URL -> fetch start times within the last minute, oldest first.
	rate      map[string][]time.Time
	lastSweep time.Time

	flights    map[string]*cimdFlight
	waiters    map[uint64]*cimdWaiter
	ready      []uint64
	nextTicket uint64

	// jwks caches private_key_jwt clients' key sets by jwks_uri
	// (client_assertion.go).
	jwks map[string]jwksEntry
}

type cimdCacheEntry struct {
	_     [0]func() // not comparable: no equality function in the wasm module
	url   string
	doc   *CIMDDocument
	until time.Time
}

// cimdFlight is one fetch in progress, led by one request.
type cimdFlight struct {
	deadline time.Time
	waiters  []uint64
}

// cimdWaiter is a parked continuation.
type cimdWaiter struct {
	url  string
	then func(*CIMDDocument, *Error) Outcome
	// Set when woken: done with the shared result, or retry to fetch
	// again because the leader was given up.
	done, retry bool
	doc         *CIMDDocument
	err         *Error
}

// cacheGet returns the cached document for url, or nil. Expired entries
// are dropped. Called with mu held.
func (s *cimdState) cacheGet(url string, now time.Time) *CIMDDocument {
	el := s.cache[url]
	if el == nil {
		return nil
	}
	ent := el.Value.(*cimdCacheEntry)
	if !now.Before(ent.until) {
		s.lru.Remove(el)
		delete(s.cache, url)
		return nil
	}
	s.lru.MoveToFront(el)
	return ent.doc
}

// cachePut stores doc until the given time, evicting the least recently
// used entry when full. Called with mu held.
func (s *cimdState) cachePut(url string, doc *CIMDDocument, until time.Time) {
	if s.cache == nil {
		s.cache = map[string]*list.Element{}
	}
	if el := s.cache[url]; el != nil {
		el.Value = &cimdCacheEntry{url: url, doc: doc, until: until}
		s.lru.MoveToFront(el)
		return
	}
	for s.lru.Len() >= cimdCacheEntries {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.cache, old.Value.(*cimdCacheEntry).url)
	}
	s.cache[url] = s.lru.PushFront(&cimdCacheEntry{url: url, doc: doc, until: until})
}

// rateAllow counts one fetch of url at now and reports whether it is within
// limit per sliding minute. The table is bounded: when full, URLs with no
// fetch in the last minute are dropped (at most once a second), and if it
// is still full a new URL is refused. Called with mu held.
func (s *cimdState) rateAllow(url string, now time.Time, limit int) bool {
	if s.rate == nil {
		s.rate = map[string][]time.Time{}
	}
	times, known := s.rate[url]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= time.Minute {
		i++
	}
	times = times[i:]
	if !known && len(s.rate) >= cimdRateEntries {
		if now.Sub(s.lastSweep) >= time.Second {
			s.lastSweep = now
			for k, ts := range s.rate {
				if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= time.Minute {
					delete(s.rate, k)
				}
			}
		}
		if len(s.rate) >= cimdRateEntries {
			return false
		}
	}
	if len(times) >= limit {
		s.rate[url] = times
		return false
	}
	s.rate[url] = append(times, now)
	return true
}

// park registers a waiter on flight f and returns its ticket, or 0 when
// the bounds are reached. Called with mu held.
func (s *cimdState) park(f *cimdFlight, url string, then func(*CIMDDocument, *Error) Outcome) uint64 {
	if len(f.waiters) >= cimdMaxWaitersPerURL || len(s.waiters) >= cimdMaxWaiters {
		return 0
	}
	if s.waiters == nil {
		s.waiters = map[uint64]*cimdWaiter{}
	}
	s.nextTicket++
	t := s.nextTicket
	s.waiters[t] = &cimdWaiter{url: url, then: then}
	f.waiters = append(f.waiters, t)
	return t
}

// land ends flight f for url with a result: the flight is removed if it is
// still the current one, and its waiters become ready. Called with mu held.
func (s *cimdState) land(url string, f *cimdFlight, doc *CIMDDocument, err *Error) {
	if s.flights[url] == f {
		delete(s.flights, url)
	}
	for _, t := range f.waiters {
		if w := s.waiters[t]; w != nil && !w.done {
			w.done, w.doc, w.err = true, doc, err
			s.ready = append(s.ready, t)
		}
	}
	f.waiters = nil
}

// Woken returns the tickets of parked requests ([Wait]) that can continue
// now, each once; the host then calls [Engine.Continue] for each, in its
// stream. It also gives up flights whose deadline has passed, waking their
// waiters to retry. The host calls it after applying the outcome of any
// Call's Resume, and periodically (proxy-wasm: on every tick).
func (e *Engine) Woken() []uint64 {
	s := &e.cimd
	now := e.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for url, f := range s.flights {
		if now.Before(f.deadline) {
			continue
		}
		delete(s.flights, url)
		for _, t := range f.waiters {
			if w := s.waiters[t]; w != nil && !w.done {
				w.done, w.retry = true, true
				s.ready = append(s.ready, t)
			}
		}
		f.waiters = nil
		e.log(LogWarn, "cimd: fetch of "+url+" did not complete before its deadline; its waiters retry")
	}
	out := s.ready
	s.ready = nil
	// Work shared for trusted issuers (issuer_flights.go).
	return append(out, e.issuers.woken(now)...)
}

// Continue runs the continuation parked under ticket and returns the
// outcome for that request. The host calls it in the request's stream,
// once per ticket returned by [Engine.Woken]. An unknown ticket (already
// continued or cancelled) yields a 500 reply.
func (e *Engine) Continue(ticket uint64) Outcome {
	if ticket&issuerTicketBit != 0 {
		return e.continueIssuerWait(ticket)
	}
	s := &e.cimd
	s.mu.Lock()
	w := s.waiters[ticket]
	if w != nil && w.done {
		delete(s.waiters, ticket)
	}
	s.mu.Unlock()
	switch {
	case w == nil:
		e.log(LogError, "cimd: Continue of an unknown ticket")
		return ServerError()
	case !w.done:
		// Not woken yet (a host bug): stay parked.
		return Wait{Ticket: ticket}
	case w.retry:
		return e.fetchCIMD(w.url, w.then)
	}
	var doc *CIMDDocument
	if w.doc != nil {
		doc = w.doc.clone()
	}
	return w.then(doc, w.err)
}

// Cancel forgets the continuation parked under ticket ([Wait]): the host
// calls it when a parked stream ends before its ticket is continued, and
// for a ticket from [Engine.Woken] whose stream no longer exists. Unknown
// tickets are ignored.
func (e *Engine) Cancel(ticket uint64) {
	if ticket&issuerTicketBit != 0 {
		e.cancelIssuerWait(ticket)
		return
	}
	s := &e.cimd
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiters[ticket]
	if w == nil {
		return
	}
	delete(s.waiters, ticket)
	if f := s.flights[w.url]; f != nil {
		f.waiters = removeTicket(f.waiters, ticket)
	}
}
