// Package control is the contract by which the API and AMI act on live
// calls: list channels, originate, hang up, redirect, read and set
// variables, locate users. It is a leaf: the node implements Controller on
// its own PBX (node.Controller), and central implements it over the node
// links (one interface, a local and a distributed implementation).
//
// Every method takes the caller's tenant scope: "" is an admin who sees
// every call; any other value sees and touches only that tenant's channels,
// and a channel of another tenant is reported as not found.
package control

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// ErrNoChannel is returned for a channel that does not exist or is not
// visible in the caller's tenant scope.
var ErrNoChannel = errors.New("no such channel")

// ErrNoExtension is returned by Originate for a dialplan target that does
// not exist (AMI's "Extension does not exist.").
var ErrNoExtension = errors.New("extension does not exist")

// ErrBadChannel is returned by Originate for a dial string it cannot call.
var ErrBadChannel = errors.New("invalid channel")

// ChannelInfo is a live channel as CoreShowChannels and the API list it.
type ChannelInfo struct {
	events.Snapshot
	Application     string
	ApplicationData string
	Duration        time.Duration
	BridgedChannel  string
	BridgeID        string
}

// OriginateRequest is AMI Originate's or the API's originate.
type OriginateRequest struct {
	Tenant string // scope of the caller
	// Channel is the dial string of the first leg: PJSIP/1001,
	// PJSIP/exten@trunk or Local/exten@context.
	Channel string
	// Either Context/Exten/Priority or Application/Data runs on the first
	// leg once it answers.
	Context, Exten, Priority string
	Application, Data        string
	Timeout                  time.Duration // default 30 s
	CallerID                 string        // "Name" <num>
	Account                  string
	Variables                map[string]string
	// ChannelID, when set, is the uniqueid given to the first leg.
	ChannelID string
	// Node names the node to originate on (the distributed tier's Remote;
	// empty: the only linked node). A node's own controller ignores it.
	Node string `json:",omitempty"`
}

// OriginateResult says how the first leg ended up, with AMI's
// OriginateResponse Reason codes (0 no such channel or failure, 1 no answer,
// 3 ringing, 4 answered, 5 busy, 8 congestion).
type OriginateResult struct {
	Reason   int
	Channel  string
	UniqueID string
}

// Controller acts on live calls.
type Controller interface {
	Channels(ctx context.Context, tenant string) ([]ChannelInfo, error)
	// Originate returns once the first leg has answered or failed; the
	// dialplan or application then runs on it in the background.
	Originate(ctx context.Context, r OriginateRequest) (OriginateResult, error)
	Hangup(ctx context.Context, tenant, channel string, cause int) error
	// Redirect moves a channel (and, if extra is not empty, a second one)
	// to a dialplan position, interrupting what it was doing.
	Redirect(ctx context.Context, tenant, channel, extra, context, exten, priority string) error
	GetVar(ctx context.Context, tenant, channel, name string) (string, error)
	SetVar(ctx context.Context, tenant, channel, name, value string) error
	// Locate says where a user of the tenant is registered: on a node,
	// that node; over the cluster, the node that has a contact for it.
	// ErrNotRegistered when none has.
	Locate(ctx context.Context, tenant, user string) (Location, error)
}

// ErrNoModule is a reload of a module a node does not have.
var ErrNoModule = errors.New("no such module")

// ReloadsDialplan reports whether a reload of module (AMI Reload's Module,
// central's reload command) reloads the dialplan: "" (everything),
// "dialplan", or Asterisk's pbx_config module that loads extensions.conf.
func ReloadsDialplan(module string) bool {
	switch strings.ToLower(module) {
	case "", "dialplan", "pbx_config", "pbx_config.so":
		return true
	}
	return false
}

// Module says whether entVoice provides what an Asterisk module does
// (named with or without ".so", as ast_module_check accepts it), and
// whether reloading it reloads anything (pbx_config: the dialplan;
// app_queue: queues.conf and queuerules.conf; the others take their
// configuration as it changes, or at start). AMI's
// ModuleCheck, ModuleLoad and Reload answer from it.
func Module(name string) (known, reloads bool) {
	switch strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".so") {
	case "pbx_config", "app_queue":
		return true, true
	case "chan_pjsip", "res_pjsip", "res_pjsip_session", "res_pjsip_registrar", "res_pjsip_authenticator_digest",
		"res_pjsip_endpoint_identifier_ip", "res_pjsip_endpoint_identifier_user", "app_dial", "res_agi",
		"cdr_manager", "res_manager_devicestate", "res_manager_presencestate":
		return true, false
	}
	return false, false
}

// ErrNotRegistered is Locate's answer for a user with no registered
// contact (on this node, or on any linked node).
var ErrNotRegistered = errors.New("user not registered")

// Reasons of OriginateResponse (the AST_CONTROL_* value
// __ast_request_and_dial ends with).
const (
	ReasonFailed     = 0
	ReasonHangup     = 1
	ReasonRinging    = 3
	ReasonAnswered   = 4
	ReasonBusy       = 5
	ReasonCongestion = 8
)

// Location is where a user is registered: the node's name and the
// address other nodes call it on (SIP over mutual TLS with the node
// certificates; empty when the node takes no calls from other nodes).
type Location struct {
	Node string `json:"node"`
	SIP  string `json:"sip,omitempty"`
}
