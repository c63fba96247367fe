package collect

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/clusterpulse/clusterpulse/engine"
)

// OpenShift resources read for the cluster info.
var (
	ClusterVersionGVR = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusterversions"}
	RouteGVR          = schema.GroupVersionResource{Group: "route.openshift.io", Version: "v1", Resource: "routes"}
)

// Names of the OpenShift objects read for the cluster info.
const (
	ClusterVersionName    = "version"
	ConsoleRouteNamespace = "openshift-console"
	ConsoleRouteName      = "console"
)

// InfoFromServerVersion returns the info of a plain Kubernetes cluster: its API URL and the
// gitVersion reported by /version.
func InfoFromServerVersion(apiURL string, v *version.Info) engine.ClusterInfo {
	info := engine.ClusterInfo{APIURL: apiURL, Platform: engine.PlatformKubernetes}
	if v != nil {
		info.Version = v.GitVersion
	}
	return info
}

// InfoFromClusterVersion returns the info of an OpenShift cluster from its ClusterVersion
// object (config.openshift.io/v1, named "version"):
//   - version: status.desired.version, else the newest history entry's version;
//   - image, channel, cluster_id: status.desired.image, spec.channel, spec.clusterID;
//   - available_updates: the versions of status.availableUpdates in API order,
//     available_update_version the first of them and update_available whether there is one;
//   - version_state and the started/completion times: the newest history entry
//     (status.history[0]);
//   - conditions, and is_available / is_progressing / is_degraded from the Available,
//     Progressing and Failing (or Degraded) conditions being True.
//
// ConsoleURL is left empty (see ConsoleURL). A malformed object is an error wrapping
// engine.ErrInvalid.
func InfoFromClusterVersion(apiURL string, cv *unstructured.Unstructured) (engine.ClusterInfo, error) {
	obj := cv.Object
	info := engine.ClusterInfo{APIURL: apiURL, Platform: engine.PlatformOpenShift}
	var errs []string
	str := func(fields ...string) string {
		s, _, err := unstructured.NestedString(obj, fields...)
		if err != nil {
			errs = append(errs, err.Error())
		}
		return s
	}
	info.Channel = str("spec", "channel")
	info.ClusterID = str("spec", "clusterID")
	info.Version = str("status", "desired", "version")
	info.Image = str("status", "desired", "image")

	history, err := nestedMaps(obj, "status", "history")
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(history) > 0 {
		h := history[0]
		info.VersionState, _ = h["state"].(string)
		info.VersionStartedTime = parseTime(h["startedTime"])
		info.VersionCompletionTime = parseTime(h["completionTime"])
		if info.Version == "" {
			info.Version, _ = h["version"].(string)
		}
	}

	updates, err := nestedMaps(obj, "status", "availableUpdates")
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, u := range updates {
		if v, _ := u["version"].(string); v != "" {
			info.AvailableUpdates = append(info.AvailableUpdates, v)
		}
	}
	hasUpdate := len(info.AvailableUpdates) > 0
	info.UpdateAvailable = &hasUpdate
	if hasUpdate {
		info.AvailableUpdateVersion = info.AvailableUpdates[0]
	}

	conds, err := conditionsOf(obj)
	if err != nil {
		errs = append(errs, err.Error())
	}
	info.Conditions = conds
	available, progressing, degraded := false, false, false
	for _, c := range conds {
		isTrue := c.Status == "True"
		switch c.Type {
		case "Available":
			available = isTrue
		case "Progressing":
			progressing = isTrue
		case "Failing", "Degraded":
			degraded = degraded || isTrue
		}
	}
	info.IsAvailable, info.IsProgressing, info.IsDegraded = &available, &progressing, &degraded

	if len(errs) > 0 {
		return engine.ClusterInfo{}, fmt.Errorf("cluster version %q: %s: %w", cv.GetName(), strings.Join(errs, "; "), engine.ErrInvalid)
	}
	return info, nil
}

// ConsoleURL returns the web console URL of an OpenShift cluster: from the console Route
// (openshift-console/console) when there is one, https when the route has TLS; otherwise
// derived from the API endpoint by turning https://api.<domain>[:port] into
// https://console-openshift-console.apps.<domain>. It returns "" when neither applies (a
// route without host, an endpoint not named api.<domain>).
func ConsoleURL(endpoint string, route *unstructured.Unstructured) string {
	if route != nil {
		host, _, _ := unstructured.NestedString(route.Object, "spec", "host")
		if host == "" {
			// An admitted route reports its host in status when spec.host was left to the router.
			ingress, _ := nestedMaps(route.Object, "status", "ingress")
			for _, in := range ingress {
				if h, _ := in["host"].(string); h != "" {
					host = h
					break
				}
			}
		}
		if host != "" {
			scheme := "http"
			if tls, ok, _ := unstructured.NestedMap(route.Object, "spec", "tls"); ok && tls != nil {
				scheme = "https"
			}
			return scheme + "://" + host
		}
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || u.Host == "" {
		return ""
	}
	host := u.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	domain, ok := strings.CutPrefix(strings.ToLower(host), "api.")
	if !ok || domain == "" {
		return ""
	}
	return "https://console-openshift-console.apps." + domain
}

// conditionsOf reads status.conditions in the OpenShift condition shape shared by
// ClusterVersion and ClusterOperator.
func conditionsOf(obj map[string]any) ([]engine.ClusterOperatorCondition, error) {
	raw, err := nestedMaps(obj, "status", "conditions")
	if err != nil {
		return nil, err
	}
	out := make([]engine.ClusterOperatorCondition, 0, len(raw))
	for _, c := range raw {
		cond := engine.ClusterOperatorCondition{LastTransitionTime: parseTime(c["lastTransitionTime"])}
		cond.Type, _ = c["type"].(string)
		cond.Status, _ = c["status"].(string)
		cond.Reason, _ = c["reason"].(string)
		cond.Message, _ = c["message"].(string)
		out = append(out, cond)
	}
	return out, nil
}

// nestedMaps returns the objects of the list at fields (nil when absent). A value of the
// wrong type is an error; list entries that are not objects are skipped.
func nestedMaps(obj map[string]any, fields ...string) ([]map[string]any, error) {
	raw, found, err := unstructured.NestedFieldNoCopy(obj, fields...)
	if err != nil || !found || raw == nil {
		return nil, err
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, not a list", strings.Join(fields, "."), raw)
	}
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// parseTime reads an RFC 3339 timestamp; anything else gives the zero time, which the wire
// format omits.
func parseTime(v any) engine.Time {
	s, _ := v.(string)
	if s == "" {
		return engine.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return engine.Time{}
	}
	return engine.NewTime(t)
}
