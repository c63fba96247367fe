package ingester

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// PresenceKind is the kind of the collector presence keys: presence:collector:{cluster}.
const PresenceKind = "collector"

// Modes of a collector connection (Presence.Mode).
const (
	ModeUnary  = "unary"
	ModeStream = "stream"
)

// Presence is the JSON at presence:collector:{cluster}: a collector talked to an ingester
// replica within the key's TTL (INGESTER_PRESENCE_TTL). Any process reads it with
// store.Presence; when the key is absent the collector counts as disconnected. It is refreshed
// by every authenticated request, so no process must clean it up.
type Presence struct {
	Cluster string `json:"cluster"`
	// Version is the collector's version (from its register message or heartbeat).
	Version string `json:"version"`
	// Replica is the ingester replica that served the last request.
	Replica string `json:"replica"`
	// Mode is ModeUnary or ModeStream.
	Mode          string      `json:"mode"`
	LastHeartbeat engine.Time `json:"last_heartbeat"`
	LastBatch     engine.Time `json:"last_batch,omitzero"`
	LastBatchID   string      `json:"last_batch_id,omitempty"`
	// The collector's buffer, from its last heartbeat.
	BufferedBatches int32 `json:"buffered_batches"`
	BufferedBytes   int64 `json:"buffered_bytes"`
	DroppedBatches  int64 `json:"dropped_batches"`
}

// presenceWriter refreshes presence keys. Each write merges with the stored value, so a push
// keeps the version and buffer figures the last heartbeat reported.
type presenceWriter struct {
	store   *store.Store
	ttl     time.Duration
	replica string
	now     func() time.Time
}

// touch updates the presence of cluster with change applied to the stored value.
func (p *presenceWriter) touch(ctx context.Context, cluster, mode string, change func(*Presence)) error {
	var pr Presence
	if _, err := p.store.Presence(ctx, PresenceKind, cluster, &pr); err != nil {
		return fmt.Errorf("read presence of cluster %q: %w", cluster, err)
	}
	pr.Cluster, pr.Replica, pr.Mode = cluster, p.replica, mode
	pr.LastHeartbeat = engine.NewTime(p.now())
	if change != nil {
		change(&pr)
	}
	if err := p.store.SetPresence(ctx, PresenceKind, cluster, pr, p.ttl); err != nil {
		return fmt.Errorf("write presence of cluster %q: %w", cluster, err)
	}
	return nil
}
