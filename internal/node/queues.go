package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/queue"
	"github.com/entvoice/entvoice/internal/queueconf"
	"github.com/entvoice/entvoice/internal/queuelog"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// QueueLogFile is the queue_log in data_dir, as Asterisk's
// /var/log/asterisk/queue_log.
const QueueLogFile = "queue_log"

// queueConfig is queues.conf and queuerules.conf, read before the node
// builds anything (an error, with file:line, stops it).
type queueConfig struct {
	defs     []queue.Def
	general  queueconf.General
	rules    queueconf.Rules
	warnings []string
}

func loadQueueConfig(cfg *config.Config) (*queueConfig, error) {
	var qc queueConfig
	var err error
	qc.defs, qc.general, qc.rules, qc.warnings, err = LoadQueues(cfg)
	if err != nil {
		return nil, err
	}
	return &qc, nil
}

// newQueues builds the node's call queues: the engine and its
// applications on the configuration read, and the queue_log writer
// (data_dir/queue_log and the store's queue_log table).
func (n *Node) newQueues(cfg *config.Config, qc *queueConfig, techs *channel.Technologies, ap *apps.Apps) error {
	defs, general, rules := qc.defs, qc.general, qc.rules
	for _, w := range qc.warnings {
		n.log.Warn("queues.conf: " + w)
	}
	var err error
	n.qlog, err = queuelog.Open(queuelog.Options{Path: filepath.Join(cfg.DataDir, QueueLogFile), Store: n.Store, Node: cfg.SystemName, Logger: n.log})
	if err != nil {
		return err
	}
	n.Queues = queue.NewEngine(queue.Options{PBX: n.PBX, Techs: techs, Apps: ap, Log: queueLogSink{n.qlog},
		Devices: queueDevices{sip: n.SIP, peering: n.peering}, Logger: n.log})
	n.Queues.SetGeneral(general, rules)
	n.Queues.SetFileQueues(defs)
	queue.Register(n.PBX, n.Queues)
	return nil
}

// LoadQueues reads the configured queues.conf and queuerules.conf (none:
// no static queue).
func LoadQueues(cfg *config.Config) (defs []queue.Def, g queueconf.General, rules queueconf.Rules, warnings []string, err error) {
	if cfg.QueueRules != "" {
		if rules, err = queueconf.ParseRulesFile(cfg.QueueRules); err != nil {
			return nil, g, nil, nil, fmt.Errorf("queuerules: %w", err)
		}
	}
	if cfg.Queues == "" {
		return nil, g, rules, nil, nil
	}
	f, err := queueconf.ParseFile(cfg.Queues)
	if err != nil {
		return nil, g, nil, nil, fmt.Errorf("queues: %w", err)
	}
	for _, q := range f.Queues {
		if q.Params.DefaultRule != "" {
			if _, ok := rules.Get(q.Params.DefaultRule); !ok {
				return nil, g, nil, nil, fmt.Errorf("queues: %s:%d: queue [%s]: defaultrule %q is not in queuerules.conf", q.File, q.Line, q.Name, q.Params.DefaultRule)
			}
		}
		defs = append(defs, queue.Def{Tenant: tenancy.Default, Name: q.Name, Params: q.Params, Members: q.Members})
	}
	return defs, f.General, rules, f.Warnings, nil
}

// ReloadQueues reads queues.conf and queuerules.conf again ("queue
// reload"): a file with errors is refused and the queues in force kept.
func (n *Node) ReloadQueues() error {
	defs, general, rules, warnings, err := LoadQueues(n.cfg)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		n.log.Warn("queues.conf: " + w)
	}
	n.Queues.SetGeneral(general, rules)
	n.Queues.SetFileQueues(defs)
	return nil
}

// closeQueues stops the engine and flushes queue_log (after the calls).
func (n *Node) closeQueues() {
	if n.Queues != nil {
		n.Queues.Close()
	}
	if n.qlog != nil {
		if err := n.qlog.Close(); err != nil {
			n.log.Error("queue_log close", "err", err)
		}
	}
}

// FlushQueueLog waits until the queue_log rows written so far are in the
// file and the store.
func (n *Node) FlushQueueLog(ctx context.Context) error { return n.qlog.Flush(ctx) }

// queueLogSink hands the engine's rows to the writer.
type queueLogSink struct{ w *queuelog.Writer }

func (s queueLogSink) Log(e queue.Entry) {
	s.w.Log(queuelog.Row{Time: e.Time, Tenant: tenancy.Of(e.Tenant), Queue: e.Queue, CallID: e.CallID, Agent: e.Agent, Event: e.Event, Data: e.Data})
}

// queueDevices is what a member's device is without calls, from the
// registrar: a user with a contact here is NotInUse; without one it is
// Unavailable, or Unknown when the node calls users registered on other
// nodes (the ring attempt finds out, as Asterisk's UNKNOWN is rung).
type queueDevices struct {
	sip     *sipua.Server
	peering bool
}

func (d queueDevices) Idle(tenant, device string) queue.DeviceState {
	tech, res, ok := strings.Cut(device, "/")
	if !ok || (!strings.EqualFold(tech, "PJSIP") && !strings.EqualFold(tech, "SIP")) || strings.Contains(res, "@") {
		return queue.Unknown
	}
	ep, ok := d.sip.Directory().UserIn(tenant, res)
	if !ok {
		return queue.Invalid
	}
	if len(d.sip.Registrar().Lookup(ep.AOR())) > 0 {
		return queue.NotInUse
	}
	if d.peering {
		return queue.Unknown
	}
	return queue.Unavailable
}

// rtQueues is realtime provisioning's state of the call queues: the
// store's queues and members, put in force per tenant.
type rtQueues struct {
	queues  map[int64]provision.Queue
	members map[int64]provision.QueueMember
	dirty   map[string]bool // tenants whose queues changed
}

func newRTQueues() *rtQueues {
	return &rtQueues{queues: map[int64]provision.Queue{}, members: map[int64]provision.QueueMember{}, dirty: map[string]bool{}}
}

// snapshot replaces everything (every tenant that had or has queues is
// rebuilt).
func (q *rtQueues) snapshot(s *provision.Snapshot) {
	for _, x := range q.queues {
		q.dirty[tenancy.Of(x.Tenant)] = true
	}
	q.queues = map[int64]provision.Queue{}
	q.members = map[int64]provision.QueueMember{}
	for _, x := range s.Queues {
		q.queues[x.ID] = x
		q.dirty[tenancy.Of(x.Tenant)] = true
	}
	for _, m := range s.QueueMembers {
		q.members[m.ID] = m
	}
}

// apply records a queue or member change.
func (q *rtQueues) apply(c *provision.Change) {
	switch {
	case c.Queue != nil:
		x := c.Queue
		q.dirty[tenancy.Of(x.Tenant)] = true
		if !c.Deleted {
			q.queues[x.ID] = *x
			return
		}
		for id, old := range q.queues {
			if tenancy.Of(old.Tenant) == tenancy.Of(x.Tenant) && strings.EqualFold(old.Name, x.Name) {
				delete(q.queues, id)
			}
		}
		for id, m := range q.members {
			if tenancy.Of(m.Tenant) == tenancy.Of(x.Tenant) && strings.EqualFold(m.Queue, x.Name) {
				delete(q.members, id)
			}
		}
	case c.QueueMember != nil:
		m := c.QueueMember
		q.dirty[tenancy.Of(m.Tenant)] = true
		if c.Deleted {
			delete(q.members, m.ID)
		} else {
			q.members[m.ID] = *m
		}
	}
}

// publish puts the changed tenants' queues in force.
func (q *rtQueues) publish(en *queue.Engine, log func(msg string, args ...any)) {
	if en == nil || len(q.dirty) == 0 {
		return
	}
	byQueue := map[string][]provision.QueueMember{}
	for _, m := range q.members {
		k := tenancy.Of(m.Tenant) + "/" + strings.ToLower(m.Queue)
		byQueue[k] = append(byQueue[k], m)
	}
	for tenant := range q.dirty {
		var defs []queue.Def
		for _, x := range q.queues {
			if tenancy.Of(x.Tenant) != tenant {
				continue
			}
			p, bad := provision.QueueParams(x)
			for _, err := range bad {
				log("realtime queue parameter skipped", "tenant", tenant, "err", err)
			}
			d := queue.Def{Tenant: tenant, Name: x.Name, Params: p}
			ms := byQueue[tenant+"/"+strings.ToLower(x.Name)]
			sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
			for _, m := range ms {
				d.Members = append(d.Members, queueconf.Member{Interface: m.Interface, Penalty: m.Penalty, MemberName: m.MemberName,
					StateInterface: m.StateInterface, RingInUse: m.RingInUse, Wrapuptime: m.Wrapuptime, Paused: m.Paused, Reason: m.Reason})
			}
			defs = append(defs, d)
		}
		en.SetRealtimeQueues(tenant, defs)
	}
	q.dirty = map[string]bool{}
}
