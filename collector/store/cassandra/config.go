package cassandra

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// Config is what Open and Schema need. The collector fills it from the
// [store.cassandra] table of its config file; Defaults fills in the rest.
type Config struct {
	// Hosts are the contact points (host or IP, optionally host:port).
	Hosts []string
	// Port is the CQL native port of hosts without one (default 9042).
	Port int
	// Keyspace holds every table (default "vigil").
	Keyspace string
	// LocalDC is the data center this collector writes to and reads from
	// (required): the driver connects only to its nodes (unless
	// AllowRemoteDC), and LOCAL_QUORUM counts its replicas.
	LocalDC string
	// AllowRemoteDC lets requests go to nodes of other data centers when
	// no node of LocalDC is up (default false: the store is unavailable
	// instead, /readyz says so, and agents keep their batches). With it,
	// a collector whose region lost its data center keeps writing across
	// regions, at the other data center's LOCAL_QUORUM; each such period
	// is logged.
	AllowRemoteDC bool
	// Replication is the replication factor per data center for
	// NetworkTopologyStrategy (default: 3 in LocalDC).
	Replication map[string]int
	// Consistency of reads and writes (default LOCAL_QUORUM).
	Consistency string
	// Username and Password for PasswordAuthenticator; empty: none.
	Username, Password string
	// TLS to the nodes.
	TLS TLS
	// ConnectTimeout bounds dialing and the connection handshake (default
	// 5s); Timeout bounds one request (default 10s).
	ConnectTimeout, Timeout time.Duration
	// WriteConcurrency bounds the requests one collector has in flight
	// for writes (default 64).
	WriteConcurrency int
	// Retention sets the TTLs of the schema and of the bucket index
	// (default store.DefaultRetention).
	Retention store.Retention
	// AlarmLimits bounds the alarm records per tenant (zero fields take
	// store.AlarmLimits' defaults).
	AlarmLimits store.AlarmLimits
}

// TLS configures encryption to the nodes.
type TLS struct {
	Enabled bool
	// CAFile verifies the nodes' certificates (default: system roots).
	CAFile string
	// CertFile and KeyFile are a client certificate, for nodes that
	// require one.
	CertFile, KeyFile string
	// ServerName is the name the nodes' certificates must carry; empty:
	// the name or address dialled is checked.
	ServerName string
}

var keyspaceRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// Defaults fills in the defaults and validates c. Errors name the
// setting as the collector's config file spells it (store.cassandra.*).
func (c *Config) Defaults() error {
	if len(c.Hosts) == 0 {
		return errors.New("store.cassandra.hosts: at least one contact point is required")
	}
	for _, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, " \t,") {
			return fmt.Errorf("store.cassandra.hosts: %q is not a host name or address", h)
		}
	}
	if c.Port == 0 {
		c.Port = 9042
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("store.cassandra.port %d: want 1 to 65535", c.Port)
	}
	if c.Keyspace == "" {
		c.Keyspace = "vigil"
	}
	if !keyspaceRE.MatchString(c.Keyspace) {
		return fmt.Errorf("store.cassandra.keyspace %q: want a lower-case letter, then up to 47 lower-case letters, digits or _", c.Keyspace)
	}
	if c.LocalDC == "" {
		return errors.New("store.cassandra.local_dc: required: the data center of this collector's region (see `nodetool status`)")
	}
	if len(c.Replication) == 0 {
		c.Replication = map[string]int{c.LocalDC: 3}
	}
	if _, ok := c.Replication[c.LocalDC]; !ok {
		return fmt.Errorf("store.cassandra.replication: has no replication factor for local_dc %q", c.LocalDC)
	}
	for dc, rf := range c.Replication {
		if dc == "" || strings.ContainsAny(dc, "'\"") {
			return fmt.Errorf("store.cassandra.replication: data center name %q", dc)
		}
		if rf < 1 || rf > 20 {
			return fmt.Errorf("store.cassandra.replication.%s = %d: want 1 to 20", dc, rf)
		}
	}
	if c.Consistency == "" {
		c.Consistency = "LOCAL_QUORUM"
	}
	if _, err := c.consistency(); err != nil {
		return err
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("store.cassandra: username and password must be set together")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("store.cassandra.tls: cert_file and key_file must be set together")
	}
	if !c.TLS.Enabled && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.ServerName != "") {
		return errors.New("store.cassandra.tls: files are set but enabled = false")
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	for name, d := range map[string]time.Duration{"connect_timeout": c.ConnectTimeout, "timeout": c.Timeout} {
		if d < 100*time.Millisecond || d > 5*time.Minute {
			return fmt.Errorf("store.cassandra.%s %v: want 100ms to 5m", name, d)
		}
	}
	if c.WriteConcurrency == 0 {
		c.WriteConcurrency = 64
	}
	if c.WriteConcurrency < 1 || c.WriteConcurrency > 4096 {
		return fmt.Errorf("store.cassandra.write_concurrency %d: want 1 to 4096", c.WriteConcurrency)
	}
	for i, r := range c.Retention {
		if r == 0 {
			c.Retention[i] = store.DefaultRetention[i]
		} else if r < time.Second {
			return fmt.Errorf("retention of %s: %v is under a second", store.Resolution(i), r)
		}
	}
	return nil
}

// consistency parses c.Consistency.
func (c *Config) consistency() (gocql.Consistency, error) {
	valid := []string{"ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"}
	s := strings.ToUpper(c.Consistency)
	if !slices.Contains(valid, s) {
		return 0, fmt.Errorf("store.cassandra.consistency %q: want one of %s", c.Consistency, strings.Join(valid, ", "))
	}
	return gocql.ParseConsistency(s), nil
}
