package contract

import "time"

// VerifyInput names the two clusters whose replicated indexes VerifyFollower compares.
type VerifyInput struct {
	Leader   ClusterRef `json:"leader"`
	Follower ClusterRef `json:"follower"`
	// Settle is how long an index that differs is looked at again before it counts as
	// diverged: a follower under live writes trails its leader by a moment. Zero means
	// DefaultVerifySettle; negative means not at all (a paused follower does not catch up).
	Settle time.Duration `json:"settle,omitempty"`
}

// DefaultVerifySettle is how long VerifyFollower lets a differing index catch up.
const DefaultVerifySettle = 30 * time.Second

// Verdicts of one index in a VerifyReport.
const (
	VerifyEqual           = "equal"
	VerifyDiverged        = "diverged"
	VerifyMissingFollower = "missing on follower"
)

// IndexVerification compares one replicated index on both sides.
type IndexVerification struct {
	Index string `json:"index"`
	// Verdict is VerifyEqual, VerifyDiverged or VerifyMissingFollower.
	Verdict        string `json:"verdict"`
	LeaderDocs     int    `json:"leader_docs"`
	FollowerDocs   int    `json:"follower_docs"`
	LeaderDigest   string `json:"leader_digest"`
	FollowerDigest string `json:"follower_digest,omitempty"`
	MappingsEqual  bool   `json:"mappings_equal"`
	// Detail says what differs, for a verdict other than VerifyEqual.
	Detail string `json:"detail,omitempty"`
}

// VerifyReport is VerifyFollower's answer.
type VerifyReport struct {
	Leader   string              `json:"leader"`
	Follower string              `json:"follower"`
	Indexes  []IndexVerification `json:"indexes"`
	// Excluded are the leader's indexes a follower does not replicate, not compared.
	Excluded []Exclusion `json:"excluded"`
	// Diverged counts the indexes whose verdict is not VerifyEqual.
	Diverged int `json:"diverged"`
	// Configuration compares, kind by kind, the configuration osccr copies (templates,
	// pipelines, stored scripts): what a failover now would lack.
	Configuration []ConfigVerification `json:"configuration"`
	// ConfigLacking counts the leader's objects the follower lacks or has otherwise.
	ConfigLacking int `json:"config_lacking"`
}

// ConfigVerification is one kind of configuration object compared: the leader's (dot-prefixed
// ones left out, as the sync leaves them) against the follower's.
type ConfigVerification struct {
	Kind     string `json:"kind"`
	Leader   int    `json:"leader"`
	Follower int    `json:"follower"`
	// Missing are the leader's objects the follower lacks; Differing those it has with
	// another body (a conflict the sync reports, or a change not yet copied).
	Missing   []string `json:"missing,omitempty"`
	Differing []string `json:"differing,omitempty"`
}
