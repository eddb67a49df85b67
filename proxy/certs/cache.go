package certs

import (
	"container/list"
	"crypto/tls"
	"sync"
)

// leafCacheSize bounds the leaves kept: a browsing session touches a few
// hundred hosts; past the bound the least recently used is dropped (and
// issued again if it comes back).
const leafCacheSize = 1024

// leafCache is a bounded LRU of leaf certificates by name in which one
// issue runs per missing name however many callers want it at once (as
// golang.org/x/sync/singleflight would, without the dependency). It is safe
// for concurrent use.
type leafCache struct {
	mu    sync.Mutex
	max   int
	order *list.List               // of *leafEntry, most recently used first
	byKey map[string]*list.Element // name → element of order
	// issued counts leaves signed, for tests.
	issued int
}

type leafEntry struct {
	name string
	done chan struct{} // closed when cert or err is set
	cert *tls.Certificate
	err  error
}

func newLeafCache(max int) *leafCache {
	return &leafCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the leaf for name, calling issue at most once for all the
// callers that miss at the same time. A failed issue is not cached.
func (lc *leafCache) get(name string, issue func(string) (*tls.Certificate, error)) (*tls.Certificate, error) {
	lc.mu.Lock()
	if el, ok := lc.byKey[name]; ok {
		lc.order.MoveToFront(el)
		e := el.Value.(*leafEntry)
		lc.mu.Unlock()
		<-e.done
		return e.cert, e.err
	}
	e := &leafEntry{name: name, done: make(chan struct{})}
	lc.byKey[name] = lc.order.PushFront(e)
	for lc.order.Len() > lc.max {
		last := lc.order.Back()
		lc.order.Remove(last)
		delete(lc.byKey, last.Value.(*leafEntry).name)
	}
	lc.issued++
	lc.mu.Unlock()

	e.cert, e.err = issue(name)
	close(e.done)
	if e.err != nil {
		lc.mu.Lock()
		if el, ok := lc.byKey[name]; ok && el.Value.(*leafEntry) == e {
			lc.order.Remove(el)
			delete(lc.byKey, name)
		}
		lc.mu.Unlock()
	}
	return e.cert, e.err
}

// len returns how many leaves are cached.
func (lc *leafCache) len() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.order.Len()
}
