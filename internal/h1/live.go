package h1

import (
	"context"
	"sync"
)

// live is a server's list of open connections, for one thing: when
// BaseContext ends, what their handlers named with CutOnGone is cut off
// (cutAll). One context.AfterFunc on BaseContext serves every connection;
// a connection joins and leaves the list with a lock and two pointers,
// without allocating.
type live struct {
	mu   sync.Mutex
	head conn // sentinel of a circular list; made on first use
	once sync.Once
}

// add puts c on the list; parent is c's context's parent (BaseContext).
// If parent has already ended, c is cut at once: whatever order add and
// cutAll run in, c is cut.
func (l *live) add(c *conn, parent context.Context) {
	l.once.Do(func() {
		l.head.prev, l.head.next = &l.head, &l.head
		if parent.Done() != nil {
			context.AfterFunc(parent, l.cutAll)
		}
	})
	l.mu.Lock()
	c.prev, c.next = l.head.prev, &l.head
	l.head.prev.next = c
	l.head.prev = c
	l.mu.Unlock()
	if parent.Err() != nil {
		c.cutNow()
	}
}

// remove takes c off the list (once closed, there is nothing to cut).
func (l *live) remove(c *conn) {
	l.mu.Lock()
	if c.next != nil {
		c.prev.next, c.next.prev = c.next, c.prev
		c.prev, c.next = nil, nil
	}
	l.mu.Unlock()
}

// cutAll cuts off every live connection's cutter; it runs once
// BaseContext has ended (and so has every connection's context).
func (l *live) cutAll() {
	l.mu.Lock()
	var all []*conn
	for c := l.head.next; c != &l.head; c = c.next {
		all = append(all, c)
	}
	l.mu.Unlock()
	for _, c := range all {
		c.cutNow()
	}
}
