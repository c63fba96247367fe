package ingester

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// HistoryWriter writes samples to VictoriaMetrics; *history.Writer implements it.
type HistoryWriter interface {
	Write(ctx context.Context, samples []history.Sample) error
}

// claimTTL is how long a batch claim lives if the replica storing it dies; the collector's
// retry after that stores it again.
const claimTTL = 2 * time.Minute

// service implements the generated CollectorServiceHandler on narrow dependencies.
type service struct {
	collectorv1connect.UnimplementedCollectorServiceHandler

	store    *store.Store
	history  HistoryWriter // nil: history disabled
	auth     *authorizer
	presence *presenceWriter
	metrics  *metrics
	log      *slog.Logger
	replica  string
	dedupTTL time.Duration
	now      func() time.Time
}

// PushBatch stores one batch of the authenticated cluster.
func (s *service) PushBatch(ctx context.Context, req *connect.Request[collectorv1.MetricsBatch]) (*connect.Response[collectorv1.PushResponse], error) {
	cluster, _ := authenticatedCluster(ctx)
	cfg, err := loadSourceConfig(ctx, s.store)
	if err != nil {
		return nil, toConnectError(err)
	}
	dup, err := s.store1(ctx, cluster, req.Msg, true, cfg)
	if err != nil {
		return nil, toConnectError(err)
	}
	b := req.Msg
	if err := s.presence.touch(ctx, cluster, ModeUnary, func(p *Presence) {
		p.LastBatch, p.LastBatchID = engine.NewTime(s.now()), b.GetBatchId()
	}); err != nil {
		// The batch is stored; a lost presence refresh heals with the next request.
		s.log.Warn("presence not refreshed", "cluster", cluster, "err", err)
	}
	return connect.NewResponse(&collectorv1.PushResponse{
		Ack:           &collectorv1.Ack{BatchId: b.GetBatchId(), Success: true},
		ConfigVersion: cfg.version,
		Duplicate:     dup,
	}), nil
}

// GetConfig returns the MetricSource configuration when it differs from the collector's.
func (s *service) GetConfig(ctx context.Context, req *connect.Request[collectorv1.GetConfigRequest]) (*connect.Response[collectorv1.GetConfigResponse], error) {
	cluster, _ := authenticatedCluster(ctx)
	cfg, err := loadSourceConfig(ctx, s.store)
	if err != nil {
		return nil, toConnectError(err)
	}
	if err := s.presence.touch(ctx, cluster, ModeUnary, nil); err != nil {
		s.log.Warn("presence not refreshed", "cluster", cluster, "err", err)
	}
	res := &collectorv1.GetConfigResponse{ConfigVersion: cfg.version}
	if req.Msg.GetKnownVersion() != cfg.version {
		res.Changed, res.Config = true, cfg.update()
	}
	return connect.NewResponse(res), nil
}

// Heartbeat refreshes the presence of the authenticated cluster.
func (s *service) Heartbeat(ctx context.Context, req *connect.Request[collectorv1.HealthReport]) (*connect.Response[collectorv1.HeartbeatResponse], error) {
	cluster, _ := authenticatedCluster(ctx)
	if c := req.Msg.GetClusterName(); c != "" && c != cluster {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("heartbeat for cluster %q with a token of cluster %q", c, cluster))
	}
	if err := s.presence.touch(ctx, cluster, ModeUnary, heartbeat(req.Msg, "")); err != nil {
		return nil, toConnectError(err)
	}
	cfg, err := loadSourceConfig(ctx, s.store)
	if err != nil {
		return nil, toConnectError(err)
	}
	return connect.NewResponse(&collectorv1.HeartbeatResponse{ConfigVersion: cfg.version}), nil
}

// heartbeat copies what a HealthReport says into a presence.
func heartbeat(h *collectorv1.HealthReport, version string) func(*Presence) {
	return func(p *Presence) {
		if v := h.GetVersion(); v != "" {
			p.Version = v
		} else if version != "" {
			p.Version = version
		}
		p.BufferedBatches, p.BufferedBytes, p.DroppedBatches = h.GetBufferedBatches(), h.GetBufferedBytes(), h.GetDroppedBatches()
	}
}

// Connect serves the original stream: register, then metrics and health. It answers the
// registration with the MetricSource config (also when empty, so a collector drops deleted
// sources), each batch with an Ack that says whether it was really stored, and sends a new
// ConfigUpdate after an Ack whenever the config changed.
func (s *service) Connect(ctx context.Context, stream *connect.BidiStream[collectorv1.ConnectRequest, collectorv1.ConnectResponse]) error {
	headerCluster, _ := authenticatedCluster(ctx)
	var cluster, version, sentVersion string
	for {
		msg, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch p := msg.GetPayload().(type) {
		case *collectorv1.ConnectRequest_Register:
			r := p.Register
			if r.GetClusterName() == "" {
				return connect.NewError(connect.CodeInvalidArgument, errors.New("register: empty cluster_name"))
			}
			c := headerCluster
			if c == "" {
				if c, err = s.auth.authorize(ctx, r.GetToken()); err != nil {
					return err
				}
			}
			if r.GetClusterName() != c {
				return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("register as cluster %q with a token of cluster %q", r.GetClusterName(), c))
			}
			cluster, version = c, r.GetVersion()
			if err := s.presence.touch(ctx, cluster, ModeStream, func(p *Presence) { p.Version = version }); err != nil {
				return toConnectError(err)
			}
			cfg, err := loadSourceConfig(ctx, s.store)
			if err != nil {
				return toConnectError(err)
			}
			if err := stream.Send(&collectorv1.ConnectResponse{Payload: &collectorv1.ConnectResponse_Config{Config: cfg.update()}}); err != nil {
				return err
			}
			sentVersion = cfg.version
			s.log.Info("collector registered", "cluster", cluster, "version", version, "mode", ModeStream)

		case *collectorv1.ConnectRequest_Metrics:
			if cluster == "" {
				return connect.NewError(connect.CodeFailedPrecondition, errors.New("metrics before register"))
			}
			b := p.Metrics
			ack := &collectorv1.Ack{BatchId: b.GetBatchId(), Success: true}
			cfg, err := loadSourceConfig(ctx, s.store)
			if err == nil {
				_, err = s.store1(ctx, cluster, b, false, cfg)
			}
			if err != nil {
				if errors.Is(err, engine.ErrForbidden) {
					return toConnectError(err)
				}
				ack.Success, ack.Error = false, toConnectError(err).Error()
			} else if err := s.presence.touch(ctx, cluster, ModeStream, func(p *Presence) {
				p.LastBatch, p.LastBatchID = engine.NewTime(s.now()), b.GetBatchId()
			}); err != nil {
				s.log.Warn("presence not refreshed", "cluster", cluster, "err", err)
			}
			if err := stream.Send(&collectorv1.ConnectResponse{Payload: &collectorv1.ConnectResponse_Ack{Ack: ack}}); err != nil {
				return err
			}
			if cfg.version != "" && cfg.version != sentVersion {
				if err := stream.Send(&collectorv1.ConnectResponse{Payload: &collectorv1.ConnectResponse_Config{Config: cfg.update()}}); err != nil {
					return err
				}
				sentVersion = cfg.version
			}

		case *collectorv1.ConnectRequest_Health:
			if cluster == "" {
				return connect.NewError(connect.CodeFailedPrecondition, errors.New("health before register"))
			}
			if c := p.Health.GetClusterName(); c != "" && c != cluster {
				return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("health for cluster %q on a stream of cluster %q", c, cluster))
			}
			if err := s.presence.touch(ctx, cluster, ModeStream, heartbeat(p.Health, version)); err != nil {
				s.log.Warn("presence not refreshed", "cluster", cluster, "err", err)
			}

		default:
			return connect.NewError(connect.CodeInvalidArgument, errors.New("empty message"))
		}
	}
}

// store1 stores one batch of cluster exactly once: it claims (cluster, batch_id), writes the
// state (one MULTI/EXEC), the MetricSource data and the history, and marks the batch done only
// when all of them succeeded. On any failure the claim is released, so the collector's retry
// stores it again. dup reports a batch that had been stored before.
func (s *service) store1(ctx context.Context, cluster string, b *collectorv1.MetricsBatch, unary bool, cfg sourceConfig) (dup bool, err error) {
	start := s.now()
	conv, err := convertBatch(b, cluster, start, unary, cfg.ids)
	if err != nil {
		return false, err
	}
	if n := len(conv.skippedSources); n > 0 {
		s.metrics.sourcesSkipped.Add(uint64(n))
		s.log.Debug("batch carries MetricSources that are not enabled", "cluster", cluster, "sources", conv.skippedSources)
	}

	onceKey := "batch:" + cluster + ":" + b.GetBatchId()
	if b.GetBatchId() != "" {
		owner := s.replica + ":" + randomSuffix()
		// Assign the named result (no :=), so the deferred release below sees the failure.
		var state store.OnceState
		state, err = s.store.BeginOnce(ctx, onceKey, owner, claimTTL)
		if err != nil {
			return false, fmt.Errorf("claim batch %q of cluster %q: %w", b.GetBatchId(), cluster, err)
		}
		switch state {
		case store.OnceDone:
			s.metrics.batchesDuplicate.Add(1)
			return true, nil
		case store.OncePending:
			return false, fmt.Errorf("batch %q of cluster %q is being stored by another request: %w", b.GetBatchId(), cluster, engine.ErrUnavailable)
		}
		defer func() {
			if err == nil {
				return
			}
			// Release the claim even when ctx is cancelled, so the retry need not wait for it
			// to lapse.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, aerr := s.store.AbortOnce(actx, onceKey, owner); aerr != nil {
				s.log.Warn("batch claim not released", "cluster", cluster, "batch_id", b.GetBatchId(), "err", aerr)
			}
		}()
	}

	if err := s.writeState(ctx, cluster, conv); err != nil {
		return false, err
	}
	if s.history != nil && len(conv.samples) > 0 {
		if err := s.history.Write(ctx, conv.samples); err != nil {
			return false, fmt.Errorf("write history of cluster %q: %w", cluster, err)
		}
	}
	if b.GetBatchId() != "" {
		if err := s.store.CompleteOnce(ctx, onceKey, s.dedupTTL); err != nil {
			return false, fmt.Errorf("mark batch %q of cluster %q done: %w", b.GetBatchId(), cluster, err)
		}
	}
	s.metrics.batch(s.now().Sub(start), len(conv.samples))
	return false, nil
}

// writeState writes the cluster state and MetricSource data of conv, unless the stored state is
// newer: a batch replayed from a collector's buffer after a newer one must not overwrite it (its
// history samples still go in, at their own time).
func (s *service) writeState(ctx context.Context, cluster string, conv *converted) error {
	cur, err := s.store.ClusterStatus(ctx, cluster)
	switch {
	case err == nil && cur.LastSuccess.After(conv.at):
		return nil
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("read status of cluster %q: %w", cluster, err)
	}
	if err := s.store.WriteCluster(ctx, cluster, conv.state); err != nil {
		return fmt.Errorf("write state of cluster %q: %w", cluster, err)
	}
	for _, c := range conv.custom {
		if err := s.store.WriteCustom(ctx, cluster, c.id, &c.coll, &c.agg, &c.meta); err != nil {
			return fmt.Errorf("write MetricSource %s of cluster %q: %w", c.id, cluster, err)
		}
	}
	return nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
