package mailcatcher

import (
	"strconv"
	"sync"
)

// Store keeps the last Max messages in memory; older ones are dropped first.
// It is safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	max  int
	msgs []Message // oldest first, at most max
	next uint64
}

// NewStore returns a store holding at most max messages (at least 1).
func NewStore(max int) *Store {
	if max < 1 {
		max = 1
	}
	return &Store{max: max}
}

// Add stores m, assigning its ID, and returns the stored message.
func (s *Store) Add(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	m.ID = strconv.FormatUint(s.next, 10)
	if len(s.msgs) >= s.max {
		n := copy(s.msgs, s.msgs[len(s.msgs)-s.max+1:])
		s.msgs = s.msgs[:n]
	}
	s.msgs = append(s.msgs, m)
	return m
}

// List returns the stored messages, newest first.
func (s *Store) List() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[len(s.msgs)-1-i] = m
	}
	return out
}

// Get returns the message with the given ID.
func (s *Store) Get(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// Clear removes every message. IDs keep increasing.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

// Len is the number of stored messages.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}
