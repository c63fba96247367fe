package ingester

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clusterpulse/clusterpulse/engine"
)

// The legacy stream test speaks the ORIGINAL protocol without our generated code: every message
// is encoded by hand with protowire from the field numbers of the original collector.proto
// (reference §6.1), and sent over real gRPC (HTTP/2, application/grpc+proto). It proves that
// collectors built from the original .proto keep working.

// raw is an encoded protobuf message.
type raw struct{ b []byte }

// rawCodec passes raw bytes through as the "proto" codec.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*raw)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T", v)
	}
	return r.b, nil
}
func (rawCodec) Unmarshal(b []byte, v any) error {
	r, ok := v.(*raw)
	if !ok {
		return fmt.Errorf("rawCodec: %T", v)
	}
	r.b = append([]byte(nil), b...)
	return nil
}

// msg builds a message from fields appended in order.
type msg []byte

func (m msg) str(n protowire.Number, s string) msg {
	m = protowire.AppendTag(m, n, protowire.BytesType)
	return protowire.AppendString(m, s)
}
func (m msg) sub(n protowire.Number, s msg) msg {
	m = protowire.AppendTag(m, n, protowire.BytesType)
	return protowire.AppendBytes(m, s)
}
func (m msg) varint(n protowire.Number, v uint64) msg {
	m = protowire.AppendTag(m, n, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}
func (m msg) double(n protowire.Number, v float64) msg {
	m = protowire.AppendTag(m, n, protowire.Fixed64Type)
	return protowire.AppendFixed64(m, math.Float64bits(v))
}

// fields decodes the top level of a message into its fields (length-delimited as bytes,
// varints as numbers).
func fields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	out := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			out[num], b = append(out[num], v), b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			out[num], b = append(out[num], v), b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			b = b[m:]
		}
	}
	return out
}

// Original messages (field numbers of reference §6.1).
func origRegister(cluster, token, version string) *raw {
	return &raw{msg(nil).sub(3, msg(nil).str(1, cluster).str(2, token).str(3, version))}
}

func origHealth(cluster string, buffered uint64) *raw {
	return &raw{msg(nil).sub(2, msg(nil).str(1, cluster).varint(3, 120).varint(4, buffered))}
}

func origMetrics(cluster, batchID string, at time.Time) *raw {
	ts := msg(nil).varint(1, uint64(at.Unix())).varint(2, uint64(at.Nanosecond()))
	cm := msg(nil).varint(1, 1).varint(2, 1).varint(4, 2).str(5, "default").str(5, "kube-system").
		varint(6, 5).varint(7, 4).double(10, 4).varint(14, 8<<30).varint(22, 2)
	label := msg(nil).str(1, "zone").str(2, "a")
	node := msg(nil).str(1, "legacy-node").str(2, "Ready").str(3, "worker").double(10, 4).varint(11, 8<<30).
		varint(13, 110).double(14, 3.5).double(20, 25).varint(22, 4).varint(26, 5).str(30, "6.1").
		sub(35, label).str(36, "10.1.0.1").str(37, "legacy-node")
	aggEntry := msg(nil).str(1, "total").double(2, 3)
	res := msg(nil).str(1, "default/web").str(2, "default").str(3, "web").sub(5, msg(`{"days":3}`))
	custom := msg(nil).str(1, testSource).varint(2, 1).varint(4, 7).sub(5, res).sub(6, aggEntry)
	op := msg(nil).str(1, "etcd.v0.9.4").str(3, "0.9.4").str(4, "Succeeded").str(5, "operators").str(10, "operators")
	info := msg(nil).str(2, "v1.30.2").str(3, "Kubernetes")
	batch := msg(nil).str(1, cluster).str(2, batchID).sub(3, ts).sub(4, cm).sub(5, node).sub(6, custom).
		sub(7, op).sub(9, info)
	return &raw{msg(nil).sub(1, batch)}
}

func legacyStream(ctx context.Context, url, headerToken string) *connect.BidiStreamForClient[raw, raw] {
	c := connect.NewClient[raw, raw](h2cClient(), url+"/clusterpulse.collector.v1.CollectorService/Connect",
		connect.WithGRPC(), connect.WithCodec(rawCodec{}))
	s := c.CallBidiStream(ctx)
	if headerToken != "" {
		s.RequestHeader().Set("Authorization", "Bearer "+headerToken)
	}
	return s
}

// TestLegacyStream drives the Connect stream as an original collector does: register (token in
// the message, and in the header), a config update back, a batch and its ack, a health report.
func TestLegacyStream(t *testing.T) {
	e := newEnv(t)
	url, _ := e.serve(t, Options{History: e.historyWriter(t)})
	for _, inHeader := range []bool{false, true} {
		t.Run(fmt.Sprintf("token in header %v", inHeader), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			header := ""
			if inHeader {
				header = e.tokenA
			}
			s := legacyStream(ctx, url, header)
			if err := s.Send(origRegister(e.pushA, e.tokenA, "v0.3.0")); err != nil {
				t.Fatal(err)
			}
			res, err := s.Receive()
			if err != nil {
				t.Fatalf("receive config: %v", err)
			}
			cfg := fields(t, fields(t, res.b)[1][0].([]byte)) // ConnectResponse.config
			if got := len(cfg[1]); got != 1 {
				t.Errorf("config carries %d MetricSources, want 1", got)
			}

			at := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Millisecond)
			id := fmt.Sprintf("legacy-%v", inHeader)
			if err := s.Send(origMetrics(e.pushA, id, at)); err != nil {
				t.Fatal(err)
			}
			res, err = s.Receive()
			if err != nil {
				t.Fatalf("receive ack: %v", err)
			}
			ack := fields(t, fields(t, res.b)[2][0].([]byte)) // ConnectResponse.ack
			got := []any{string(ack[1][0].([]byte)), ack[2]}
			want := []any{id, []any{uint64(1)}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ack (-want +got):\n%s", diff)
			}
			if err := s.Send(origHealth(e.pushA, 4)); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Receive(); !errors.Is(err, errEOF()) {
				t.Errorf("end of stream: %v, want EOF", err)
			}
			_ = s.CloseResponse()

			st, err := e.store.ReadCluster(ctx, e.pushA)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Nodes) != 1 || st.Nodes[0].Name != "legacy-node" || !st.Nodes[0].Timestamp.Equal(engine.NewTime(at)) {
				t.Errorf("nodes = %+v, want legacy-node at %v", st.Nodes, at)
			}
			if st.Metrics == nil || st.Metrics.Pods != 5 || st.Namespaces == nil || st.Namespaces.Count != 2 {
				t.Errorf("metrics %+v namespaces %+v", st.Metrics, st.Namespaces)
			}
			agg, err := e.store.CustomAggregations(ctx, e.pushA, testSource)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]any{"total": 3.0}, agg.Values); diff != "" {
				t.Errorf("aggregations (-want +got):\n%s", diff)
			}
			var pr Presence
			if _, err := e.store.Presence(ctx, PresenceKind, e.pushA, &pr); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]any{"v0.3.0", ModeStream, int32(4), id}, []any{pr.Version, pr.Mode, pr.BufferedBatches, pr.LastBatchID}); diff != "" {
				t.Errorf("presence (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLegacyStreamRefused checks the stream's refusals: the stream ends with the code and the
// cluster stays unwritten.
func TestLegacyStreamRefused(t *testing.T) {
	e := newEnv(t)
	url, _ := e.serve(t, Options{})
	cases := []struct {
		name     string
		header   string
		messages []*raw
		cluster  string
		want     connect.Code
	}{
		{"wrong token", "", []*raw{origRegister(e.pushB, "nope", "v1")}, e.pushB, connect.CodeUnauthenticated},
		{"register as another cluster", "", []*raw{origRegister(e.pushB, e.tokenA, "v1")}, e.pushB, connect.CodePermissionDenied},
		{"header token of another cluster", e.tokenA, []*raw{origRegister(e.pushB, e.tokenB, "v1")}, e.pushB, connect.CodePermissionDenied},
		{"pull-mode cluster", "", []*raw{origRegister(e.pull, e.tokenPull, "v1")}, e.pull, connect.CodePermissionDenied},
		{"metrics before register", "", []*raw{origMetrics(e.pushB, "x", time.Now())}, e.pushB, connect.CodeFailedPrecondition},
		{"batch for another cluster", "", []*raw{origRegister(e.pushA, e.tokenA, "v1"), origMetrics(e.pushB, "x", time.Now())}, e.pushB, connect.CodePermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := legacyStream(ctx, url, c.header)
			for _, m := range c.messages {
				if err := s.Send(m); err != nil {
					break // the server may have ended the stream already
				}
			}
			_ = s.CloseRequest()
			var err error
			for err == nil {
				_, err = s.Receive()
			}
			if got := connect.CodeOf(err); got != c.want {
				t.Errorf("stream ended with %v (%v), want %v", got, err, c.want)
			}
			if e.clusterWritten(t, c.cluster) {
				t.Errorf("cluster %s was written", c.cluster)
			}
		})
	}
}
