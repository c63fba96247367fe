package ingester

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// sourceConfig is the MetricSource configuration collectors receive: every enabled
// MetricSource in its compiled JSON, as job metricsource stores it.
type sourceConfig struct {
	// version changes whenever any enabled source is added, removed or recompiled.
	version string
	ids     map[string]bool
	jsons   [][]byte
}

// loadSourceConfig reads the enabled MetricSources from Redis (one SMEMBERS, one MGET). It is
// read per request rather than cached, so every replica hands out the same version at once.
func loadSourceConfig(ctx context.Context, st *store.Store) (sourceConfig, error) {
	k := st.Keys()
	c := st.Client()
	ids, err := c.SMembers(ctx, k.MetricSourcesEnabled()).Result()
	if err != nil {
		return sourceConfig{}, fmt.Errorf("read enabled MetricSources: %w: %w", engine.ErrUnavailable, err)
	}
	sort.Strings(ids)
	keys := make([]string, 0, len(ids))
	valid := ids[:0]
	for _, id := range ids {
		ns, name, ok := strings.Cut(id, "/")
		if !ok {
			continue
		}
		keys = append(keys, k.MetricSource(ns, name))
		valid = append(valid, id)
	}
	cfg := sourceConfig{ids: make(map[string]bool, len(valid))}
	h := sha256.New()
	if len(keys) > 0 {
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			return sourceConfig{}, fmt.Errorf("read compiled MetricSources: %w: %w", engine.ErrUnavailable, err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // listed but not (yet) stored
			}
			cfg.ids[valid[i]] = true
			cfg.jsons = append(cfg.jsons, []byte(s))
			fmt.Fprintf(h, "%s\x00%d\x00%s\x00", valid[i], len(s), s)
		}
	}
	cfg.version = hex.EncodeToString(h.Sum(nil))[:16]
	return cfg, nil
}

// update is the ConfigUpdate of cfg.
func (cfg sourceConfig) update() *collectorv1.ConfigUpdate {
	return &collectorv1.ConfigUpdate{MetricSourcesJson: cfg.jsons, ConfigVersion: cfg.version}
}
