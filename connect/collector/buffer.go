package collector

import (
	"sync"
)

// entry is one buffered batch in its encoded form (its size is what the byte bound counts, and
// an encoded batch cannot change after it was collected).
type entry struct {
	seq  uint64
	id   string
	data []byte
}

// Buffer is the FIFO of batches waiting to be pushed, bounded by a number of batches and a
// number of bytes. Adding beyond either bound drops the oldest batches first; a single batch
// larger than the byte bound is dropped itself. It is safe for concurrent use: the collection
// loop adds while the sender takes from the front.
type Buffer struct {
	mu         sync.Mutex
	maxBatches int
	maxBytes   int64
	entries    []entry
	bytes      int64
	seq        uint64
	dropped    int64
	// ready holds one token while the buffer is not empty, for the sender to wait on.
	ready chan struct{}
}

// NewBuffer returns an empty Buffer with the given bounds.
func NewBuffer(maxBatches int, maxBytes int64) *Buffer {
	return &Buffer{maxBatches: max(maxBatches, 1), maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// Add appends one encoded batch and returns how many batches it dropped to make room.
func (b *Buffer) Add(id string, data []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := int64(len(data))
	if size > b.maxBytes {
		b.dropped++
		return 1
	}
	n := 0
	for len(b.entries) > 0 && (len(b.entries) >= b.maxBatches || b.bytes+size > b.maxBytes) {
		b.bytes -= int64(len(b.entries[0].data))
		b.entries[0] = entry{}
		b.entries = b.entries[1:]
		n++
	}
	b.dropped += int64(n)
	b.seq++
	b.entries = append(b.entries, entry{seq: b.seq, id: id, data: data})
	b.bytes += size
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return n
}

// front returns the oldest batch; ok is false when the buffer is empty.
func (b *Buffer) front() (e entry, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) == 0 {
		return entry{}, false
	}
	return b.entries[0], true
}

// remove removes the batch seq if it is still buffered (it may have been dropped while it was
// being pushed).
func (b *Buffer) remove(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, e := range b.entries {
		if e.seq == seq {
			b.bytes -= int64(len(e.data))
			if i == 0 {
				b.entries[0] = entry{}
				b.entries = b.entries[1:]
				return
			}
			b.entries = append(b.entries[:i:i], b.entries[i+1:]...)
			return
		}
	}
}

// Len returns the number of batches and bytes buffered.
func (b *Buffer) Len() (batches int, bytes int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries), b.bytes
}

// Dropped returns how many batches were dropped because the buffer was full, since the start.
func (b *Buffer) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// IDs returns the batch ids in buffer order, oldest first.
func (b *Buffer) IDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, len(b.entries))
	for i, e := range b.entries {
		ids[i] = e.id
	}
	return ids
}

// wait returns a channel that is ready while the buffer (probably) holds a batch.
func (b *Buffer) wait() <-chan struct{} { return b.ready }
