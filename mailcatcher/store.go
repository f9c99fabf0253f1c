package mailcatcher

import (
	"sort"
	"strconv"
	"sync"
	"time"
)

// recordOverhead is what one stored message costs beyond its strings and raw
// source (the record, the Message struct, slice headers), counted so that
// many tiny messages also hit Limits.MaxBytes.
const recordOverhead = 256

// Limits bound what a Store holds. When a new message pushes the store past
// either limit, the oldest messages are dropped until it fits again; the
// newest message is always kept, so the store holds at most
// MaxBytes + one message.
type Limits struct {
	// MaxMessages is how many messages are kept (at least 1).
	MaxMessages int
	// MaxBytes bounds the bytes held: raw sources, the stored previews and
	// headers, and a fixed overhead per message. 0 means no byte limit.
	MaxBytes int64
}

// Store keeps the newest messages in memory within its Limits; the oldest
// are dropped first. It keeps each message's raw source and a preview
// (bodies cut at PreviewBytes); Full parses the raw source again for the whole
// message. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	lim     Limits
	recs    []record // oldest first; IDs increase
	bytes   int64
	next    uint64
	dropped uint64
}

// record is one stored message.
type record struct {
	id      uint64
	msg     Message // as listed: bodies cut at PreviewBytes when raw is kept
	raw     []byte  // source as received; nil for messages added without one
	envFrom string  // envelope sender, to parse raw again
	envTo   []string
	size    int64 // accounted bytes
}

// NewStore returns a store holding at most max messages (at least 1) and no
// byte limit. NewStoreLimits sets both limits.
func NewStore(max int) *Store { return NewStoreLimits(Limits{MaxMessages: max}) }

// NewStoreLimits returns a store bounded by lim (MaxMessages at least 1).
func NewStoreLimits(lim Limits) *Store {
	if lim.MaxMessages < 1 {
		lim.MaxMessages = 1
	}
	if lim.MaxBytes < 0 {
		lim.MaxBytes = 0
	}
	return &Store{lim: lim}
}

// Limits returns the store's limits.
func (s *Store) Limits() Limits { return s.lim }

// Add stores m as it is (no raw source, bodies not cut), assigning its ID,
// and returns the stored message.
func (s *Store) Add(m Message) Message { return s.add(record{msg: m}) }

// AddRaw parses raw (received from envelope sender from for recipients to)
// and stores it with bodies cut at PreviewBytes; Full returns it whole. A
// message that is not valid MIME is stored with its raw text as body and the
// parse error is returned alongside the stored message.
func (s *Store) AddRaw(raw []byte, from string, to []string, received time.Time) (Message, error) {
	m, perr := parseMessage(raw, from, to, PreviewBytes)
	m.ReceivedAt = received
	return s.add(record{msg: m, raw: raw, envFrom: from, envTo: append([]string(nil), to...)}), perr
}

func (s *Store) add(r record) Message {
	r.size = recordSize(&r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	r.id = s.next
	r.msg.ID = strconv.FormatUint(r.id, 10)
	s.recs = append(s.recs, r)
	s.bytes += r.size
	for len(s.recs) > 1 && (len(s.recs) > s.lim.MaxMessages || (s.lim.MaxBytes > 0 && s.bytes > s.lim.MaxBytes)) {
		s.bytes -= s.recs[0].size
		s.recs[0] = record{} // release the raw source now, not when the slice is reallocated
		s.recs = s.recs[1:]
		s.dropped++
	}
	return r.msg
}

// recordSize is the bytes a record is accounted for.
func recordSize(r *record) int64 {
	m := &r.msg
	n := len(r.raw) + len(r.envFrom) + len(m.From) + len(m.Subject) + len(m.Date) + len(m.Text) + len(m.HTML) + recordOverhead
	for _, t := range m.To {
		n += len(t) + 16
	}
	for _, t := range r.envTo {
		n += len(t) + 16
	}
	return int64(n)
}

// List returns every stored message (previews), newest first.
func (s *Store) List() []Message {
	msgs, _ := s.Page(0, -1)
	return msgs
}

// Page returns up to limit stored messages (previews), newest first,
// skipping the offset newest ones, and the number of stored messages.
// A negative limit means all.
func (s *Store) Page(offset, limit int) ([]Message, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := len(s.recs)
	if offset < 0 {
		offset = 0
	}
	if offset >= total {
		return []Message{}, total
	}
	n := total - offset
	if limit >= 0 && limit < n {
		n = limit
	}
	out := make([]Message, n)
	for i := range out {
		out[i] = s.recs[total-1-offset-i].msg
	}
	return out, total
}

// find returns the index of the record with the given ID, or -1.
// Callers hold s.mu.
func (s *Store) find(id string) int {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return -1
	}
	i := sort.Search(len(s.recs), func(i int) bool { return s.recs[i].id >= n })
	if i < len(s.recs) && s.recs[i].id == n {
		return i
	}
	return -1
}

// Get returns the stored message (preview) with the given ID.
func (s *Store) Get(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(id); i >= 0 {
		return s.recs[i].msg, true
	}
	return Message{}, false
}

// Raw returns the raw source of the message with the given ID (nil when it
// was added without one). The slice is shared: do not modify it.
func (s *Store) Raw(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(id); i >= 0 {
		return s.recs[i].raw, true
	}
	return nil, false
}

// Full returns the whole message with the given ID: its raw source parsed
// again, bodies not cut, Raw set. Parsing happens outside the store's lock.
func (s *Store) Full(id string) (Message, bool) {
	s.mu.Lock()
	i := s.find(id)
	if i < 0 {
		s.mu.Unlock()
		return Message{}, false
	}
	r := s.recs[i]
	s.mu.Unlock()
	if r.raw == nil {
		return r.msg, true
	}
	m, _ := parseMessage(r.raw, r.envFrom, r.envTo, 0)
	m.ID, m.ReceivedAt, m.Raw = r.msg.ID, r.msg.ReceivedAt, string(r.raw)
	return m, true
}

// Delete removes the message with the given ID and reports whether it was there.
func (s *Store) Delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(id)
	if i < 0 {
		return false
	}
	s.bytes -= s.recs[i].size
	s.recs = append(s.recs[:i], s.recs[i+1:]...)
	s.recs[len(s.recs) : len(s.recs)+1][0] = record{} // release the shifted-out tail
	return true
}

// Clear removes every message. IDs keep increasing.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = nil
	s.bytes = 0
}

// Len is the number of stored messages.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// Bytes is the number of bytes the stored messages are accounted for (see
// Limits.MaxBytes).
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Dropped is how many messages were dropped to stay within the limits.
func (s *Store) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
