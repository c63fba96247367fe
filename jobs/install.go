package jobs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Install settings of the push collector (docs/pull.md, section "Installing the collector").
const (
	// CollectorFieldManager is the server-side apply field manager of everything job pull
	// installs on a managed cluster.
	CollectorFieldManager = "clusterpulse"
	// DefaultCollectorNamespace is the default of COLLECTOR_NAMESPACE (the original's).
	DefaultCollectorNamespace = "clusterpulse-system"
	// DefaultCollectorName is the default of COLLECTOR_NAME (the original's).
	DefaultCollectorName = "clusterpulse-collector"
	// DefaultCollectorImage is the default of COLLECTOR_IMAGE: the ClusterPulse image, whose
	// "collector" subcommand is the agent.
	DefaultCollectorImage = "quay.io/clusterpulse/clusterpulse"
	// CollectorTokenKey is the key of the token in the collector's Secret.
	CollectorTokenKey = "token"
	// collectorHTTPPort serves the agent's /healthz (COLLECTOR_HTTP_PORT).
	collectorHTTPPort = 8080
	collectorPortName = "http"
	// collectorUID is the user the agent runs as (the distroless "nonroot" user), so that
	// runAsNonRoot holds whatever USER the image declares.
	collectorUID = 65532
	// installRevision is part of the install hash: bump it when the installed objects change
	// shape, so that job pull re-applies them on clusters whose collector is connected.
	installRevision = "1"
	// removeGoneTimeout bounds the removal of the collector of a deleted ClusterConnection.
	removeGoneTimeout = 30 * time.Second
)

// TLS settings of the installed collector (the original's names and defaults).
const (
	// DefaultIngesterServiceName is the default of INGESTER_SERVICE_NAME.
	DefaultIngesterServiceName = "clusterpulse-ingester"
	// DefaultCollectorCAConfigMap is the default of COLLECTOR_CA_CONFIGMAP.
	DefaultCollectorCAConfigMap = "ingester-ca"
	// DefaultCollectorCAKey is the default of COLLECTOR_CA_KEY.
	DefaultCollectorCAKey = "service-ca.crt"
	// CollectorCAKey is the key of the CA bundle in the ConfigMap copied to managed clusters,
	// and the file name under CollectorCAMountPath.
	CollectorCAKey = "service-ca.crt"
	// CollectorCAMountPath is where the collector's CA ConfigMap is mounted (read-only).
	CollectorCAMountPath = "/etc/ingester-ca"
	// caVolume is the name of the CA volume in the collector's pod.
	caVolume = "ingester-ca"
	// caCacheTTL is how long the hub CA ConfigMap read by one job is reused (the install hash
	// of every connected push cluster depends on it, so it is read about once per pass, not
	// once per cluster).
	caCacheTTL = 30 * time.Second
)

// collectorEnv configures the push collector job pull installs on managed clusters.
type collectorEnv struct {
	Namespace string `envconfig:"COLLECTOR_NAMESPACE" default:"clusterpulse-system" desc:"namespace job pull installs the push collector in, on each push-mode cluster"`
	Name      string `envconfig:"COLLECTOR_NAME" default:"clusterpulse-collector" desc:"name of the collector's ServiceAccount, ClusterRole, ClusterRoleBinding and Deployment (its Secret is NAME-token, its CA ConfigMap NAME-ingester-ca)"`
	Image     string `envconfig:"COLLECTOR_IMAGE" default:"quay.io/clusterpulse/clusterpulse" desc:"image repository of the collector; the tag is spec.collectorVersion, else this build's version (latest for dev builds)"`

	// TLS settings, with the original's names: how the installed collectors reach an ingester
	// that serves TLS.
	TLS           bool   `envconfig:"INGESTER_TLS_ENABLED" default:"false" desc:"the ingester serves TLS: installed collectors get INGESTER_TLS_ENABLED=true and INGESTER_TLS_SERVER_NAME, and the CA of COLLECTOR_CA_CONFIGMAP"`
	ServiceName   string `envconfig:"INGESTER_SERVICE_NAME" default:"clusterpulse-ingester" desc:"ingester Service; installed collectors verify the ingester certificate against <INGESTER_SERVICE_NAME>.<NAMESPACE>.svc"`
	TLSServerName string `envconfig:"COLLECTOR_INGESTER_TLS_SERVER_NAME" desc:"name installed collectors verify the ingester certificate against, instead of <INGESTER_SERVICE_NAME>.<NAMESPACE>.svc"`
	UseSystemCA   bool   `envconfig:"INGESTER_TLS_USE_SYSTEM_CA" default:"false" desc:"installed collectors trust the ingester certificate through the system roots of their image; no CA ConfigMap is copied"`
	CAConfigMap   string `envconfig:"COLLECTOR_CA_CONFIGMAP" default:"ingester-ca" desc:"hub ConfigMap holding the PEM CA bundle of the ingester certificate, copied to each managed cluster as COLLECTOR_NAME-ingester-ca"`
	CANamespace   string `envconfig:"COLLECTOR_CA_NAMESPACE" desc:"namespace of COLLECTOR_CA_CONFIGMAP (default NAMESPACE)"`
	CAKey         string `envconfig:"COLLECTOR_CA_KEY" default:"service-ca.crt" desc:"key of the CA bundle in COLLECTOR_CA_CONFIGMAP"`
}

func (e collectorEnv) validate() error {
	for _, v := range []struct{ name, value string }{{"COLLECTOR_NAMESPACE", e.Namespace}, {"COLLECTOR_NAME", e.Name}} {
		if errs := validation.IsDNS1123Label(v.value); len(errs) > 0 {
			return fmt.Errorf("%s=%q: %s", v.name, v.value, strings.Join(errs, "; "))
		}
	}
	if strings.TrimSpace(e.Image) == "" || strings.ContainsAny(e.Image, " @") {
		return fmt.Errorf("COLLECTOR_IMAGE=%q: want an image repository such as %s", e.Image, DefaultCollectorImage)
	}
	if !e.TLS {
		return nil
	}
	if e.TLSServerName != "" {
		if errs := validation.IsDNS1123Subdomain(e.TLSServerName); len(errs) > 0 {
			return fmt.Errorf("COLLECTOR_INGESTER_TLS_SERVER_NAME=%q: %s", e.TLSServerName, strings.Join(errs, "; "))
		}
	} else if errs := validation.IsDNS1035Label(e.ServiceName); len(errs) > 0 {
		return fmt.Errorf("INGESTER_SERVICE_NAME=%q: %s", e.ServiceName, strings.Join(errs, "; "))
	}
	if e.UseSystemCA {
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(e.CAConfigMap); len(errs) > 0 {
		return fmt.Errorf("COLLECTOR_CA_CONFIGMAP=%q: %s", e.CAConfigMap, strings.Join(errs, "; "))
	}
	if e.CANamespace != "" {
		if errs := validation.IsDNS1123Label(e.CANamespace); len(errs) > 0 {
			return fmt.Errorf("COLLECTOR_CA_NAMESPACE=%q: %s", e.CANamespace, strings.Join(errs, "; "))
		}
	}
	if errs := validation.IsConfigMapKey(e.CAKey); len(errs) > 0 {
		return fmt.Errorf("COLLECTOR_CA_KEY=%q: %s", e.CAKey, strings.Join(errs, "; "))
	}
	return nil
}

// collectorTLS is how an installed collector connects to the ingester; the zero value is
// h2c (INGESTER_TLS_ENABLED=false).
type collectorTLS struct {
	enabled bool
	// serverName is the collector's INGESTER_TLS_SERVER_NAME.
	serverName string
	// ca is the PEM bundle copied to the managed cluster; "" means the system roots.
	ca string
}

// caHash is a short hash of the CA bundle, for the install hash and the pod annotation.
func (t collectorTLS) caHash() string {
	sum := sha256.Sum256([]byte(t.ca))
	return hex.EncodeToString(sum[:])[:16]
}

// cachedCA is the CA bundle read from the hub, with where and when it was read.
type cachedCA struct {
	source string
	pem    string
	at     time.Time
}

// collectorTLS resolves the TLS settings of the installed collectors. The CA bundle is read
// from COLLECTOR_CA_CONFIGMAP with the hub client (hubNamespace is the default namespace and
// part of the default server name), at most once per caCacheTTL.
func (in *installer) collectorTLS(ctx context.Context, hub kubernetes.Interface, hubNamespace string) (collectorTLS, error) {
	if !in.env.TLS {
		return collectorTLS{}, nil
	}
	t := collectorTLS{enabled: true, serverName: in.env.TLSServerName}
	if t.serverName == "" {
		t.serverName = in.env.ServiceName + "." + hubNamespace + ".svc"
	}
	if in.env.UseSystemCA {
		return t, nil
	}
	ns := in.env.CANamespace
	if ns == "" {
		ns = hubNamespace
	}
	source := ns + "/" + in.env.CAConfigMap + "/" + in.env.CAKey
	in.caMu.Lock()
	defer in.caMu.Unlock()
	if c := in.ca; c.source == source && time.Since(c.at) < caCacheTTL {
		t.ca = c.pem
		return t, nil
	}
	cm, err := hub.CoreV1().ConfigMaps(ns).Get(ctx, in.env.CAConfigMap, metav1.GetOptions{})
	if err != nil {
		return t, fmt.Errorf("read ingester CA config map %s/%s: %w", ns, in.env.CAConfigMap, err)
	}
	pem, ok := cm.Data[in.env.CAKey]
	if !ok {
		pem = string(cm.BinaryData[in.env.CAKey])
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(pem)) {
		return t, fmt.Errorf("ingester CA config map %s/%s: key %q holds no PEM certificate", ns, in.env.CAConfigMap, in.env.CAKey)
	}
	in.ca = cachedCA{source: source, pem: pem, at: time.Now()}
	t.ca = pem
	return t, nil
}

// installer installs, upgrades and removes the push collector of managed clusters with
// server-side apply. What it installed is recorded in Redis (store.CollectorInstall), which
// is how a later run knows what to upgrade or remove.
type installer struct {
	env   collectorEnv
	store *store.Store
	now   func() time.Time

	// caMu guards ca, the hub CA bundle last read by collectorTLS.
	caMu sync.Mutex
	ca   cachedCA
}

// collectorVersion is the image tag of the collector of a ClusterConnection.
func collectorVersion(specVersion string) string {
	if v := strings.TrimSpace(specVersion); v != "" {
		return v
	}
	if engine.Version == "" || engine.Version == "dev" {
		return "latest"
	}
	return engine.Version
}

// hash identifies everything an install of cc depends on, apart from what is read from the
// managed cluster: a different hash means the installed objects are out of date.
// msVersion is the MetricSource definitions counter (the ClusterRole grants their kinds); tc
// the TLS settings (without TLS the hash is what it was before TLS existed, so that the new
// settings re-apply nothing where they are not used).
func (in *installer) hash(cc *kube.ClusterConnection, msVersion int64, tc collectorTLS) string {
	parts := []any{installRevision, cc.Name, in.env.Namespace, in.env.Name, in.env.Image,
		collectorVersion(cc.Spec.CollectorVersion), strings.TrimSpace(cc.Spec.IngesterAddress), cc.Spec.Endpoint, msVersion}
	if tc.enabled {
		parts = append(parts, "tls", tc.serverName, tc.ca != "", tc.caHash())
	}
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// labels are the labels of every installed object.
func (in *installer) labels(version string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       in.env.Name,
		"app.kubernetes.io/component":  "collector",
		"app.kubernetes.io/part-of":    "clusterpulse",
		"app.kubernetes.io/managed-by": CollectorFieldManager,
		"app.kubernetes.io/version":    labelValue(version),
	}
}

// labelValue makes v a valid label value (an image tag may be longer or hold '+').
func labelValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, v)
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

func (in *installer) secretName() string { return in.env.Name + "-token" }

// caConfigMapName is the name of the collector's CA ConfigMap on the managed cluster.
func caConfigMapName(collectorName string) string { return collectorName + "-ingester-ca" }

// applyOptions are the options of every server-side apply of the installer: its field
// manager, forcing ownership of the fields it sets (it is the only writer of these objects).
func applyOptions() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: CollectorFieldManager, Force: true}
}

// install applies the collector of push cluster cc to the managed cluster of cs: namespace,
// service account, ClusterRole (collect.PolicyRules plus get/list on the kinds of the enabled
// MetricSources, never Secrets), binding, token Secret (the token is generated only when the
// Secret has none, and its hash registered in Redis), the CA ConfigMap when tc carries a CA
// bundle (deleted when it does not) and Deployment. prev is the previous record of cc, if
// any. Applying unchanged objects changes nothing on the server, so running it on every pass
// causes no update storm. It returns the new record (saved in Redis) and
// notes for the status message.
func (in *installer) install(ctx context.Context, cs kubernetes.Interface, cc *kube.ClusterConnection, prev *store.CollectorInstall, msVersion int64, tc collectorTLS) (store.CollectorInstall, []string, error) {
	var notes []string
	ingester := strings.TrimSpace(cc.Spec.IngesterAddress)
	if ingester == "" {
		return store.CollectorInstall{}, nil, fmt.Errorf("spec.ingesterAddress is required in push mode: %w", engine.ErrInvalid)
	}
	if prev != nil && (prev.Namespace != in.env.Namespace || prev.Name != in.env.Name) {
		// COLLECTOR_NAMESPACE or COLLECTOR_NAME changed: the old objects go first.
		if err := in.remove(ctx, cs, *prev); err != nil {
			notes = append(notes, fmt.Sprintf("previous collector %s/%s not fully removed: %v", prev.Namespace, prev.Name, err))
		}
		prev = nil
	}
	ns, version := in.env.Namespace, collectorVersion(cc.Spec.CollectorVersion)
	ccNS := cc.Spec.CredentialsRef.Namespace
	if ccNS == "" {
		ccNS = cc.Namespace
	}
	rec := store.CollectorInstall{
		Cluster: cc.Name, Namespace: ns, Name: in.env.Name, Version: version,
		Endpoint: cc.Spec.Endpoint, CredentialsRef: engine.CredentialsRef{Name: cc.Spec.CredentialsRef.Name, Namespace: ccNS},
		InsecureSkipTLSVerify: cc.Spec.InsecureSkipTLSVerify,
	}
	if prev != nil {
		rec.NamespaceCreated, rec.TokenHash = prev.NamespaceCreated, prev.TokenHash
	} else {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			rec.NamespaceCreated = true
		case err != nil:
			return rec, notes, fmt.Errorf("get namespace %s: %w", ns, err)
		}
	}
	labels := in.labels(version)
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, coreac.Namespace(ns).WithLabels(labels), applyOptions()); err != nil {
		return rec, notes, fmt.Errorf("apply namespace %s: %w", ns, err)
	}
	// Recorded as soon as something may have been created (without a hash, so it counts as
	// out of date), so that a later removal finds whatever this install gets to create.
	if err := in.store.SaveCollectorInstall(ctx, rec); err != nil {
		return rec, notes, err
	}
	sa := coreac.ServiceAccount(in.env.Name, ns).WithLabels(labels)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Apply(ctx, sa, applyOptions()); err != nil {
		return rec, notes, fmt.Errorf("apply service account %s/%s: %w", ns, in.env.Name, err)
	}
	extra, msNotes := in.metricSourceResources(ctx, cs)
	notes = append(notes, msNotes...)
	role := rbacac.ClusterRole(in.env.Name).WithLabels(labels).WithRules(applyRules(collectorRules(extra))...)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, applyOptions()); err != nil {
		return rec, notes, fmt.Errorf("apply cluster role %s: %w", in.env.Name, err)
	}
	binding := rbacac.ClusterRoleBinding(in.env.Name).WithLabels(labels).
		WithRoleRef(rbacac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(in.env.Name)).
		WithSubjects(rbacac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(in.env.Name).WithNamespace(ns))
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, binding, applyOptions()); err != nil {
		return rec, notes, fmt.Errorf("apply cluster role binding %s: %w", in.env.Name, err)
	}

	tokenHash, err := in.ensureToken(ctx, cs, cc.Name, labels, &rec)
	if err != nil {
		return rec, notes, err
	}
	if rec.TokenHash != tokenHash {
		// The previous token is gone from the Secret: it is revoked, so it cannot be reused.
		if err := in.store.RevokeCollectorTokenHash(ctx, rec.TokenHash); err != nil {
			notes = append(notes, "previous collector token not revoked: "+err.Error())
		}
		rec.TokenHash = tokenHash
	}

	cmName := caConfigMapName(in.env.Name)
	if tc.ca != "" {
		cm := coreac.ConfigMap(cmName, ns).WithLabels(labels).WithData(map[string]string{CollectorCAKey: tc.ca})
		if _, err := cs.CoreV1().ConfigMaps(ns).Apply(ctx, cm, applyOptions()); err != nil {
			return rec, notes, fmt.Errorf("apply config map %s/%s: %w", ns, cmName, err)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Apply(ctx, in.deployment(cc, version, ingester, tokenHash, labels, tc), applyOptions()); err != nil {
		return rec, notes, fmt.Errorf("apply deployment %s/%s: %w", ns, in.env.Name, err)
	}
	if tc.ca == "" {
		// TLS turned off, or the system roots used now: a copied CA is not needed any more.
		if err := ignoreForbidden(cs.CoreV1().ConfigMaps(ns).Delete(ctx, cmName, metav1.DeleteOptions{})); err != nil && !apierrors.IsNotFound(err) {
			notes = append(notes, fmt.Sprintf("unused config map %s/%s not deleted: %v", ns, cmName, err))
		}
	}
	rec.Hash = in.hash(cc, msVersion, tc)
	rec.InstalledAt = engine.NewTime(in.now())
	if err := in.store.SaveCollectorInstall(ctx, rec); err != nil {
		return rec, notes, err
	}
	return rec, notes, nil
}

// ensureToken makes sure the collector's Secret holds a token registered for cluster and
// returns its hash. The token in the Secret is kept when it is usable (registered again if
// Redis lost it); a new one (32 random bytes, hex) is generated only when the Secret has none
// or its token belongs to another cluster. A new token is registered, and saved in rec,
// before the Secret is applied, so it is never unknown to the hub nor untracked.
func (in *installer) ensureToken(ctx context.Context, cs kubernetes.Interface, cluster string, labels map[string]string, rec *store.CollectorInstall) (string, error) {
	ns, name := in.env.Namespace, in.secretName()
	var token string
	existing, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("get secret %s/%s: %w", ns, name, err)
	default:
		if t := string(existing.Data[CollectorTokenKey]); len(t) >= store.MinCollectorTokenLength {
			owner, err := in.store.CollectorTokenCluster(ctx, t)
			if err != nil {
				return "", err
			}
			if owner == "" || owner == cluster {
				token = t
			}
		}
	}
	fresh := token == ""
	if fresh {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generate collector token: %w", err)
		}
		token = hex.EncodeToString(b[:])
	}
	if err := in.store.RegisterCollectorToken(ctx, cluster, token); err != nil {
		return "", err
	}
	hash := store.CollectorTokenHash(token)
	if fresh {
		// Tracked at once: if the apply below fails, the next run or a removal revokes it.
		tracked := *rec
		tracked.TokenHash = hash
		if err := in.store.SaveCollectorInstall(ctx, tracked); err != nil {
			_ = in.store.RevokeCollectorTokenHash(context.WithoutCancel(ctx), hash)
			return "", err
		}
		if rec.TokenHash != "" && rec.TokenHash != hash {
			if err := in.store.RevokeCollectorTokenHash(ctx, rec.TokenHash); err != nil {
				return "", err
			}
		}
		rec.TokenHash = hash
	}
	secret := coreac.Secret(name, ns).WithLabels(labels).WithType(corev1.SecretTypeOpaque).
		WithData(map[string][]byte{CollectorTokenKey: []byte(token)})
	if _, err := cs.CoreV1().Secrets(ns).Apply(ctx, secret, applyOptions()); err != nil {
		return "", fmt.Errorf("apply secret %s/%s: %w", ns, name, err)
	}
	return hash, nil
}

// deployment is the collector Deployment: one replica of the image's "collector" subcommand,
// probes on /healthz, requests 50m/128Mi, limits 200m/512Mi and a restricted securityContext.
// The token hash in a pod annotation rolls the pod when the token changes. With TLS the agent
// gets INGESTER_TLS_ENABLED and INGESTER_TLS_SERVER_NAME, and with a CA bundle the CA
// ConfigMap mounted read-only at CollectorCAMountPath, INGESTER_TLS_CA pointing at it and the
// bundle's hash in a pod annotation (the agent reads the CA at start only).
func (in *installer) deployment(cc *kube.ClusterConnection, version, ingester, tokenHash string, labels map[string]string, tc collectorTLS) *appsac.DeploymentApplyConfiguration {
	probe := func(initial, period int32) *coreac.ProbeApplyConfiguration {
		return coreac.Probe().
			WithHTTPGet(coreac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString(collectorPortName))).
			WithInitialDelaySeconds(initial).WithPeriodSeconds(period).WithTimeoutSeconds(5).WithFailureThreshold(3)
	}
	selector := map[string]string{"app.kubernetes.io/name": in.env.Name}
	container := coreac.Container().
		WithName("collector").
		WithImage(in.env.Image+":"+version).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs("collector").
		WithEnv(
			coreac.EnvVar().WithName("CLUSTER_NAME").WithValue(cc.Name),
			coreac.EnvVar().WithName("INGESTER_ADDRESS").WithValue(ingester),
			coreac.EnvVar().WithName("COLLECTOR_TOKEN").WithValueFrom(coreac.EnvVarSource().
				WithSecretKeyRef(coreac.SecretKeySelector().WithName(in.secretName()).WithKey(CollectorTokenKey))),
			coreac.EnvVar().WithName("CLUSTER_API_URL").WithValue(cc.Spec.Endpoint),
			coreac.EnvVar().WithName("COLLECTOR_HTTP_PORT").WithValue(fmt.Sprint(collectorHTTPPort)),
		).
		WithEnv(tlsEnv(tc)...).
		WithPorts(coreac.ContainerPort().WithName(collectorPortName).WithContainerPort(collectorHTTPPort).WithProtocol(corev1.ProtocolTCP)).
		WithReadinessProbe(probe(5, 10)).
		WithLivenessProbe(probe(15, 20)).
		WithResources(coreac.ResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("128Mi")}).
			WithLimits(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("512Mi")})).
		WithSecurityContext(coreac.SecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(collectorUID).
			WithRunAsGroup(collectorUID).
			WithReadOnlyRootFilesystem(true).
			WithAllowPrivilegeEscalation(false).
			WithCapabilities(coreac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(coreac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	annotations := map[string]string{"clusterpulse.io/token-hash": tokenHash[:16]}
	spec := coreac.PodSpec().
		WithServiceAccountName(in.env.Name).
		WithAutomountServiceAccountToken(true).
		WithSecurityContext(coreac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithSeccompProfile(coreac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	if tc.ca != "" {
		annotations["clusterpulse.io/ingester-ca-hash"] = tc.caHash()
		container.WithVolumeMounts(coreac.VolumeMount().WithName(caVolume).WithMountPath(CollectorCAMountPath).WithReadOnly(true))
		spec.WithVolumes(coreac.Volume().WithName(caVolume).
			WithConfigMap(coreac.ConfigMapVolumeSource().WithName(caConfigMapName(in.env.Name))))
	}
	pod := coreac.PodTemplateSpec().
		WithLabels(labels).
		WithAnnotations(annotations).
		WithSpec(spec.WithContainers(container))
	return appsac.Deployment(in.env.Name, in.env.Namespace).
		WithLabels(labels).
		WithSpec(appsac.DeploymentSpec().
			WithReplicas(1).
			// Recreate: two agents of one cluster never push at once.
			WithStrategy(appsac.DeploymentStrategy().WithType("Recreate")).
			WithSelector(metaac.LabelSelector().WithMatchLabels(selector)).
			WithTemplate(pod))
}

// ignoreForbidden drops a Forbidden error of the deletion of the CA ConfigMap: a token without
// rights on ConfigMaps (enough for collectors without TLS) cannot have created one, so there
// is nothing to delete, and removals must not fail for it.
func ignoreForbidden(err error) error {
	if apierrors.IsForbidden(err) {
		return nil
	}
	return err
}

// tlsEnv is the TLS environment of the agent (none without TLS).
func tlsEnv(tc collectorTLS) []*coreac.EnvVarApplyConfiguration {
	if !tc.enabled {
		return nil
	}
	env := []*coreac.EnvVarApplyConfiguration{
		coreac.EnvVar().WithName("INGESTER_TLS_ENABLED").WithValue("true"),
		coreac.EnvVar().WithName("INGESTER_TLS_SERVER_NAME").WithValue(tc.serverName),
	}
	if tc.ca != "" {
		env = append(env, coreac.EnvVar().WithName("INGESTER_TLS_CA").WithValue(CollectorCAMountPath+"/"+CollectorCAKey))
	}
	return env
}

// metricSourceResources resolves the kinds of the enabled MetricSources on the managed
// cluster of cs (discovery of their group/version only). A kind the cluster does not serve is
// left out (nothing to read); Secrets are never granted. The notes name what was left out
// for another reason.
func (in *installer) metricSourceResources(ctx context.Context, cs kubernetes.Interface) ([]schema.GroupResource, []string) {
	ids, err := in.store.EnabledMetricSourceIDs(ctx)
	if err != nil {
		return nil, []string{"MetricSource kinds not granted: " + err.Error()}
	}
	var out []schema.GroupResource
	var notes []string
	for _, id := range ids {
		ns, name, ok := strings.Cut(id, "/")
		if !ok {
			ns, name = "", id
		}
		data, err := in.store.MetricSourceDefinition(ctx, ns, name)
		if err != nil {
			notes = append(notes, fmt.Sprintf("MetricSource %s not granted: %v", id, err))
			continue
		}
		c, err := metricsource.Load(data)
		if err != nil {
			notes = append(notes, fmt.Sprintf("MetricSource %s not granted: %v", id, err))
			continue
		}
		t, err := c.Resolve(cs.Discovery())
		switch {
		case errors.Is(err, engine.ErrNotFound):
			continue
		case err != nil:
			notes = append(notes, fmt.Sprintf("MetricSource %s not granted: %v", id, err))
			continue
		}
		if isSecrets(t.GVR.GroupResource()) {
			notes = append(notes, fmt.Sprintf("MetricSource %s reads Secrets: not granted to the collector", id))
			continue
		}
		out = append(out, t.GVR.GroupResource())
	}
	return out, notes
}

func isSecrets(gr schema.GroupResource) bool { return gr.Group == "" && gr.Resource == "secrets" }

// collectorRules are the rules of the collector's ClusterRole: collect.PolicyRules() plus
// get and list on extra (one rule per API group, resources sorted), without Secrets.
func collectorRules(extra []schema.GroupResource) []rbacv1.PolicyRule {
	rules := collect.PolicyRules()
	byGroup := map[string][]string{}
	for _, gr := range extra {
		if isSecrets(gr) || gr.Resource == "" {
			continue
		}
		byGroup[gr.Group] = append(byGroup[gr.Group], gr.Resource)
	}
	for _, g := range sortedKeys(byGroup) {
		res := byGroup[g]
		slices.Sort(res)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: slices.Compact(res), Verbs: []string{"get", "list"}})
	}
	return rules
}

func applyRules(rules []rbacv1.PolicyRule) []*rbacac.PolicyRuleApplyConfiguration {
	out := make([]*rbacac.PolicyRuleApplyConfiguration, 0, len(rules))
	for _, r := range rules {
		ac := rbacac.PolicyRule().WithVerbs(r.Verbs...)
		if len(r.APIGroups) > 0 {
			ac.WithAPIGroups(r.APIGroups...)
		}
		if len(r.Resources) > 0 {
			ac.WithResources(r.Resources...)
		}
		if len(r.ResourceNames) > 0 {
			ac.WithResourceNames(r.ResourceNames...)
		}
		if len(r.NonResourceURLs) > 0 {
			ac.WithNonResourceURLs(r.NonResourceURLs...)
		}
		out = append(out, ac)
	}
	return out
}

// remove deletes what rec says was installed: it revokes the token first (the one recorded
// and the one in the Secret, so the agent is refused at once), then deletes the Deployment,
// Secret, CA ConfigMap, ClusterRoleBinding, ClusterRole, ServiceAccount and, when the install
// created it, the namespace. Objects already gone are not an error. The record itself is left
// to the caller.
func (in *installer) remove(ctx context.Context, cs kubernetes.Interface, rec store.CollectorInstall) error {
	var errs []error
	secretName := rec.Name + "-token"
	if s, err := cs.CoreV1().Secrets(rec.Namespace).Get(ctx, secretName, metav1.GetOptions{}); err == nil {
		if t := string(s.Data[CollectorTokenKey]); t != "" {
			if owner, err := in.store.CollectorTokenCluster(ctx, t); err != nil {
				errs = append(errs, err)
			} else if owner == rec.Cluster {
				errs = append(errs, in.store.RevokeCollectorToken(ctx, t))
			}
		}
	}
	errs = append(errs, in.store.RevokeCollectorTokenHash(ctx, rec.TokenHash))

	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	deletes := []struct {
		what string
		del  func() error
	}{
		{"deployment " + rec.Namespace + "/" + rec.Name, func() error {
			return cs.AppsV1().Deployments(rec.Namespace).Delete(ctx, rec.Name, opts)
		}},
		{"secret " + rec.Namespace + "/" + secretName, func() error {
			return cs.CoreV1().Secrets(rec.Namespace).Delete(ctx, secretName, opts)
		}},
		{"config map " + rec.Namespace + "/" + caConfigMapName(rec.Name), func() error {
			return ignoreForbidden(cs.CoreV1().ConfigMaps(rec.Namespace).Delete(ctx, caConfigMapName(rec.Name), opts))
		}},
		{"cluster role binding " + rec.Name, func() error { return cs.RbacV1().ClusterRoleBindings().Delete(ctx, rec.Name, opts) }},
		{"cluster role " + rec.Name, func() error { return cs.RbacV1().ClusterRoles().Delete(ctx, rec.Name, opts) }},
		{"service account " + rec.Namespace + "/" + rec.Name, func() error {
			return cs.CoreV1().ServiceAccounts(rec.Namespace).Delete(ctx, rec.Name, opts)
		}},
	}
	if rec.NamespaceCreated {
		deletes = append(deletes, struct {
			what string
			del  func() error
		}{"namespace " + rec.Namespace, func() error { return cs.CoreV1().Namespaces().Delete(ctx, rec.Namespace, opts) }})
	}
	for _, d := range deletes {
		if err := d.del(); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", d.what, err))
		}
	}
	return errors.Join(errs...)
}

// managedClient returns a client of the managed cluster of cc (its credentials Secret).
func (p *puller) managedClient(ctx context.Context, cc *kube.ClusterConnection) (kubernetes.Interface, error) {
	cfg, err := p.r.hub.RESTConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cc.Spec.Endpoint, err)
	}
	return cs, nil
}

// collectorChange is what the collector step of one push or pull cluster did, for the status.
type collectorChange struct {
	// version is the installed collector version, "" when nothing was installed.
	version string
	// note goes into the status message ("" for none).
	note string
}

// ensureCollector installs or upgrades the collector of a push cluster whose collector is not
// connected (its cluster was just reached by the fallback pull). A failure is a note: the
// cluster was pulled, and the next run tries again.
func (p *puller) ensureCollector(ctx context.Context, cc *kube.ClusterConnection) collectorChange {
	if strings.TrimSpace(cc.Spec.IngesterAddress) == "" {
		return collectorChange{note: "collector not installed: spec.ingesterAddress is required in push mode"}
	}
	prev, found, err := p.inst.store.LoadCollectorInstall(ctx, cc.Name)
	if err != nil {
		return collectorChange{note: "collector not installed: " + err.Error()}
	}
	msVersion, err := p.inst.store.MetricSourcesVersion(ctx)
	if err != nil {
		return collectorChange{note: "collector not installed: " + err.Error()}
	}
	tc, err := p.inst.collectorTLS(ctx, p.r.hub.Core, p.r.hub.Namespace)
	if err != nil {
		return collectorChange{note: "collector not installed: " + err.Error()}
	}
	cs, err := p.managedClient(ctx, cc)
	if err != nil {
		return collectorChange{note: "collector not installed: " + err.Error()}
	}
	var prevp *store.CollectorInstall
	if found {
		prevp = &prev
	}
	rec, notes, err := p.inst.install(ctx, cs, cc, prevp, msVersion, tc)
	if err != nil {
		notes = append(notes, "collector not installed: "+describeInstallError(err))
		return collectorChange{note: strings.Join(notes, "; ")}
	}
	notes = append([]string{fmt.Sprintf("collector %s applied to %s/%s, waiting for it to connect", rec.Version, rec.Namespace, rec.Name)}, notes...)
	return collectorChange{version: rec.Version, note: strings.Join(notes, "; ")}
}

// upgradeCollector re-applies the collector of a push cluster whose collector is connected,
// but only when job pull installed it and an input of the install changed since
// (collectorVersion, ingesterAddress, the MetricSources, COLLECTOR_*, the TLS settings and
// the CA bundle). A collector deployed
// by other means is left alone.
func (p *puller) upgradeCollector(ctx context.Context, cc *kube.ClusterConnection) collectorChange {
	prev, found, err := p.inst.store.LoadCollectorInstall(ctx, cc.Name)
	if err != nil || !found {
		return collectorChange{}
	}
	msVersion, err := p.inst.store.MetricSourcesVersion(ctx)
	if err != nil {
		return collectorChange{}
	}
	tc, err := p.inst.collectorTLS(ctx, p.r.hub.Core, p.r.hub.Namespace)
	if err != nil {
		return collectorChange{note: "collector not checked for an upgrade: " + err.Error()}
	}
	if prev.Hash == p.inst.hash(cc, msVersion, tc) {
		return collectorChange{}
	}
	if strings.TrimSpace(cc.Spec.IngesterAddress) == "" {
		return collectorChange{note: "collector not upgraded: spec.ingesterAddress is required in push mode"}
	}
	cs, err := p.managedClient(ctx, cc)
	if err != nil {
		return collectorChange{note: "collector not upgraded: " + err.Error()}
	}
	rec, notes, err := p.inst.install(ctx, cs, cc, &prev, msVersion, tc)
	if err != nil {
		notes = append(notes, "collector not upgraded: "+describeInstallError(err))
		return collectorChange{note: strings.Join(notes, "; ")}
	}
	notes = append([]string{fmt.Sprintf("collector upgraded to %s", rec.Version)}, notes...)
	return collectorChange{version: rec.Version, note: strings.Join(notes, "; ")}
}

// removeCollector removes the collector job pull installed for cc, now a pull cluster. On
// failure the record stays, so the next run tries again.
func (p *puller) removeCollector(ctx context.Context, cc *kube.ClusterConnection) string {
	rec, found, err := p.inst.store.LoadCollectorInstall(ctx, cc.Name)
	if err != nil {
		return "installed collector not checked: " + err.Error()
	}
	if !found {
		return ""
	}
	cs, err := p.managedClient(ctx, cc)
	if err != nil {
		return "installed collector not removed: " + err.Error()
	}
	if err := p.inst.remove(ctx, cs, rec); err != nil {
		return "installed collector not fully removed: " + err.Error()
	}
	if err := p.inst.store.DeleteCollectorInstall(ctx, cc.Name); err != nil {
		return "installed collector removed, its record not: " + err.Error()
	}
	return fmt.Sprintf("collector removed from %s/%s (collection mode is pull)", rec.Namespace, rec.Name)
}

// removeGoneCollector removes the collector of a cluster whose ClusterConnection is gone, best
// effort: the token is always revoked and the record dropped, and the objects on the managed
// cluster are deleted when its credentials Secret (named in the record) still works. It
// returns what it did, "" when there was nothing installed.
func (p *puller) removeGoneCollector(ctx context.Context, cluster string) string {
	rec, found, err := p.inst.store.LoadCollectorInstall(ctx, cluster)
	if err != nil {
		return "installed collector not checked: " + err.Error()
	}
	if !found {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, removeGoneTimeout)
	defer cancel()
	cc := &kube.ClusterConnection{
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: rec.CredentialsRef.Namespace},
		Spec: kube.ClusterConnectionSpec{Endpoint: rec.Endpoint, InsecureSkipTLSVerify: rec.InsecureSkipTLSVerify,
			CredentialsRef: kube.CredentialsRef{Name: rec.CredentialsRef.Name, Namespace: rec.CredentialsRef.Namespace}},
	}
	var msg string
	var objErr error
	if cs, err := p.managedClient(ctx, cc); err != nil {
		objErr = err
	} else {
		objErr = p.inst.remove(ctx, cs, rec)
	}
	if objErr != nil {
		// The token is what lets the agent in: it goes even when the objects cannot.
		if err := p.inst.store.RevokeCollectorTokenHash(ctx, rec.TokenHash); err != nil {
			return "installed collector not removed: token not revoked: " + err.Error()
		}
		msg = fmt.Sprintf("collector token revoked; objects %s/%s left on the managed cluster (%v)", rec.Namespace, rec.Name, objErr)
	} else {
		msg = fmt.Sprintf("collector removed from %s/%s", rec.Namespace, rec.Name)
	}
	if err := p.inst.store.DeleteCollectorInstall(ctx, cluster); err != nil {
		return msg + "; its record not deleted: " + err.Error()
	}
	return msg
}

// describeInstallError explains the usual install failure, a token without install rights.
func describeInstallError(err error) string {
	if apierrors.IsForbidden(err) {
		return "forbidden: the ClusterConnection token lacks the rights to install it: " + err.Error()
	}
	return err.Error()
}
