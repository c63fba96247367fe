package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
)

// streamLoop pushes the buffer over the original Connect stream (gRPC), reconnecting with
// backoff, until sendCtx is done or the collection stopped and the buffer is empty.
func (a *Agent) streamLoop(sendCtx context.Context, collectDone <-chan struct{}) {
	bo := Backoff{Min: a.o.BackoffMin, Max: a.o.BackoffMax, Rand: a.o.Rand}
	for sendCtx.Err() == nil {
		err := a.streamSession(sendCtx, collectDone, &bo)
		if err == nil {
			return
		}
		if a.disconnected() {
			a.log.Warn("stream lost; buffering and reconnecting with backoff", "err", err)
		} else {
			a.log.Debug("stream failed", "err", err)
		}
		if !sleep(sendCtx, retryDelay(&bo, err)) {
			return
		}
	}
}

// streamSession runs one stream: register, then each buffered batch in order, waiting for its
// Ack before the next (so a batch leaves the buffer only when it is stored), and a health
// report every HeartbeatInterval. It returns nil when the work is done, else the error that
// ended the stream.
func (a *Agent) streamSession(ctx context.Context, collectDone <-chan struct{}, bo *Backoff) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := a.client.Connect(sctx)
	a.authorize(stream.RequestHeader())
	defer func() {
		_ = stream.CloseRequest()
		_ = stream.CloseResponse()
	}()

	acks := make(chan *collectorv1.Ack, 1)
	recvErr := make(chan error, 1)
	go func() {
		for {
			res, err := stream.Receive()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = connect.NewError(connect.CodeUnavailable, errors.New("stream closed by the ingester"))
				}
				recvErr <- err
				return
			}
			switch p := res.GetPayload().(type) {
			case *collectorv1.ConnectResponse_Config:
				a.applyConfig(p.Config)
			case *collectorv1.ConnectResponse_Ack:
				select {
				case acks <- p.Ack:
				case <-sctx.Done():
					return
				}
			}
		}
	}()
	// send returns the real cause of a failed Send: connect-go reports io.EOF from Send and
	// the server's error from Receive.
	send := func(m *collectorv1.ConnectRequest) error {
		err := stream.Send(m)
		if errors.Is(err, io.EOF) {
			select {
			case rerr := <-recvErr:
				return rerr
			case <-time.After(rpcTimeout):
			}
		}
		return err
	}

	register := &collectorv1.RegisterRequest{ClusterName: a.o.Cluster, Token: a.o.Token, Version: a.o.Version}
	if err := send(&collectorv1.ConnectRequest{Payload: &collectorv1.ConnectRequest_Register{Register: register}}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	hb := time.NewTicker(a.o.HeartbeatInterval)
	defer hb.Stop()
	health := func() error {
		return send(&collectorv1.ConnectRequest{Payload: &collectorv1.ConnectRequest_Health{Health: a.healthReport()}})
	}
	for {
		select {
		case <-hb.C:
			if err := health(); err != nil {
				return fmt.Errorf("health: %w", err)
			}
		default:
		}
		e, ok := a.buf.front()
		if !ok {
			select {
			case <-collectDone:
				if n, _ := a.buf.Len(); n == 0 {
					return nil
				}
			case <-a.buf.wait():
			case <-hb.C:
				if err := health(); err != nil {
					return fmt.Errorf("health: %w", err)
				}
			case err := <-recvErr:
				return err
			case <-ctx.Done():
				return nil
			}
			continue
		}
		b := &collectorv1.MetricsBatch{}
		if err := proto.Unmarshal(e.data, b); err != nil {
			a.settleFailure(e, connect.NewError(connect.CodeInvalidArgument, err))
			continue
		}
		if err := send(&collectorv1.ConnectRequest{Payload: &collectorv1.ConnectRequest_Metrics{Metrics: b}}); err != nil {
			a.settleFailure(e, err)
			return fmt.Errorf("send batch: %w", err)
		}
		select {
		case ack := <-acks:
			if ack.GetBatchId() != e.id {
				return connect.NewError(connect.CodeInternal, fmt.Errorf("ack for batch %q while %q was in flight", ack.GetBatchId(), e.id))
			}
			if !ack.GetSuccess() {
				err := ackError(ack)
				if a.settleFailure(e, err) {
					continue
				}
				return err
			}
			a.buf.remove(e.seq)
			a.acknowledged(false)
			bo.Reset()
		case err := <-recvErr:
			a.settleFailure(e, err)
			return err
		case <-time.After(rpcTimeout):
			err := connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("no ack for batch %s within %s", e.id, rpcTimeout))
			a.settleFailure(e, err)
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// ackError turns a negative Ack into an error with the code its text starts with
// ("invalid_argument: …"), so a malformed batch is dropped instead of retried forever.
func ackError(ack *collectorv1.Ack) error {
	msg := ack.GetError()
	code := connect.CodeUnavailable
	if name, _, ok := strings.Cut(msg, ":"); ok {
		var c connect.Code
		if c.UnmarshalText([]byte(name)) == nil {
			code = c
		}
	}
	return connect.NewError(code, fmt.Errorf("batch %s not stored: %s", ack.GetBatchId(), msg))
}
