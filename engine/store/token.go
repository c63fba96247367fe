package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// MinCollectorTokenLength is the shortest collector token RegisterCollectorToken accepts.
// Tokens are generated (32 random bytes, hex), never chosen by people, so a short one is a
// mistake.
const MinCollectorTokenLength = 32

// CollectorToken is the STRING (a cluster name) that binds the collector token whose hex
// SHA-256 is hash to that cluster: collector:token:{sha256}. Only the hash is stored, so
// reading Redis does not reveal a token. New: not in the original schema.
func (k Keys) CollectorToken(hash string) string { return k.join("collector", "token", hash) }

// CollectorInstall is the STRING (JSON CollectorInstall) describing what job pull installed
// for the push collector of cluster c. New: not in the original schema.
func (k Keys) CollectorInstall(c string) string { return k.join("collector", "install", c) }

// CollectorsInstalled is the SET of the clusters that have a CollectorInstall record, so that
// job pull finds the collectors of deleted ClusterConnections without scanning. New.
func (k Keys) CollectorsInstalled() string { return k.join("collectors", "installed") }

// CollectorTokenHash returns the hex SHA-256 of token, the form in which the hub keeps it.
func CollectorTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RegisterCollectorToken binds token to cluster: from then on the ingester accepts token for
// cluster and for no other. Several tokens may be bound to one cluster at once, which is how a
// token is rotated without downtime (register the new one, roll the collector, revoke the old
// one). Registering a token again binds it to the cluster given last.
func (s *Store) RegisterCollectorToken(ctx context.Context, cluster, token string) error {
	if cluster == "" {
		return fmt.Errorf("register collector token: empty cluster name: %w", engine.ErrInvalid)
	}
	if len(token) < MinCollectorTokenLength {
		return fmt.Errorf("register collector token of cluster %q: token shorter than %d characters: %w",
			cluster, MinCollectorTokenLength, engine.ErrInvalid)
	}
	op := fmt.Sprintf("register collector token of cluster %q", cluster)
	return wrap(op, s.client.Set(ctx, s.keys.CollectorToken(CollectorTokenHash(token)), cluster, 0).Err())
}

// RevokeCollectorToken removes token; the ingester rejects it from then on. Revoking an
// unknown token is not an error.
func (s *Store) RevokeCollectorToken(ctx context.Context, token string) error {
	return s.RevokeCollectorTokenHash(ctx, CollectorTokenHash(token))
}

// RevokeCollectorTokenHash is RevokeCollectorToken for a token known only by its hash (as a
// CollectorInstall record keeps it).
func (s *Store) RevokeCollectorTokenHash(ctx context.Context, hash string) error {
	if hash == "" {
		return nil
	}
	return wrap("revoke collector token", s.client.Del(ctx, s.keys.CollectorToken(hash)).Err())
}

// CollectorTokenCluster returns the cluster token is bound to, or "" when it is unknown.
func (s *Store) CollectorTokenCluster(ctx context.Context, token string) (string, error) {
	c, err := s.client.Get(ctx, s.keys.CollectorToken(CollectorTokenHash(token))).Result()
	if isNil(err) {
		return "", nil
	}
	if err != nil {
		return "", wrap("look up collector token", err)
	}
	return c, nil
}

// CollectorInstall is what job pull installed on a managed cluster for its push collector:
// enough to upgrade it only when something changed, and to remove it (objects, token) even
// after the ClusterConnection is gone.
type CollectorInstall struct {
	// Cluster is the ClusterConnection name.
	Cluster string `json:"cluster"`
	// Namespace and Name place the installed objects: the namespace, and the name of the
	// service account, ClusterRole, ClusterRoleBinding and Deployment (the Secret is
	// Name + "-token").
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// NamespaceCreated is true when the install created the namespace, so removal deletes it.
	NamespaceCreated bool `json:"namespace_created"`
	// Version is the image tag of the collector.
	Version string `json:"version"`
	// Hash identifies the inputs of the install (image, ingester address, MetricSource
	// version, ...): a different hash means the installed objects are out of date.
	Hash string `json:"hash"`
	// TokenHash is the hex SHA-256 of the collector token in the installed Secret.
	TokenHash string `json:"token_hash"`
	// Endpoint, CredentialsRef and InsecureSkipTLSVerify are the ClusterConnection's, so the
	// managed cluster can still be reached after the ClusterConnection is deleted.
	Endpoint              string                `json:"endpoint"`
	CredentialsRef        engine.CredentialsRef `json:"credentials_ref"`
	InsecureSkipTLSVerify bool                  `json:"insecure_skip_tls_verify"`
	// InstalledAt is when the objects were last applied.
	InstalledAt engine.Time `json:"installed_at"`
}

// SaveCollectorInstall stores rec (no TTL) and lists its cluster in collectors:installed, in
// one MULTI/EXEC.
func (s *Store) SaveCollectorInstall(ctx context.Context, rec CollectorInstall) error {
	if rec.Cluster == "" {
		return fmt.Errorf("save collector install: empty cluster name: %w", engine.ErrInvalid)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode collector install of cluster %q: %w", rec.Cluster, err)
	}
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.CollectorInstall(rec.Cluster), b, 0)
		p.SAdd(ctx, s.keys.CollectorsInstalled(), rec.Cluster)
		return nil
	})
	return wrap(fmt.Sprintf("save collector install of cluster %q", rec.Cluster), err)
}

// LoadCollectorInstall returns the install record of cluster; found is false when there is
// none.
func (s *Store) LoadCollectorInstall(ctx context.Context, cluster string) (rec CollectorInstall, found bool, err error) {
	b, err := s.client.Get(ctx, s.keys.CollectorInstall(cluster)).Bytes()
	if isNil(err) {
		return CollectorInstall{}, false, nil
	}
	if err != nil {
		return CollectorInstall{}, false, wrap(fmt.Sprintf("read collector install of cluster %q", cluster), err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return CollectorInstall{}, false, fmt.Errorf("decode collector install of cluster %q: %w", cluster, err)
	}
	return rec, true, nil
}

// DeleteCollectorInstall removes the install record of cluster and its collectors:installed
// entry, in one MULTI/EXEC. Deleting a missing record is not an error.
func (s *Store) DeleteCollectorInstall(ctx context.Context, cluster string) error {
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.CollectorInstall(cluster))
		p.SRem(ctx, s.keys.CollectorsInstalled(), cluster)
		return nil
	})
	return wrap(fmt.Sprintf("delete collector install of cluster %q", cluster), err)
}

// CollectorInstallClusters returns the clusters in collectors:installed, sorted.
func (s *Store) CollectorInstallClusters(ctx context.Context) ([]string, error) {
	return s.sortedMembers(ctx, s.keys.CollectorsInstalled(), "list installed collectors")
}
