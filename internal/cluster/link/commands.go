package link

import (
	"context"
	"errors"
	"fmt"

	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
)

// runCommand runs one of central's commands on this node: a reload with
// the node's reloader, anything else on its controller.
func (l *Link) runCommand(ctx context.Context, cmd *wire.Command) *wire.Reply {
	if cmd.Op == wire.OpReload {
		return reloadModule(ctx, l.node.ReloadDialplan, cmd)
	}
	return execute(ctx, l.node.Controller, cmd)
}

// execute runs a command on the node's controller.
func execute(ctx context.Context, ctl control.Controller, cmd *wire.Command) *wire.Reply {
	rep := &wire.Reply{ID: cmd.ID}
	if ctl == nil {
		rep.Err = "this node takes no commands (no controller)"
		return rep
	}
	var err error
	switch cmd.Op {
	case wire.OpChannels:
		rep.Channels, err = ctl.Channels(ctx, cmd.Tenant)
	case wire.OpOriginate:
		if cmd.Originate == nil {
			err = errors.New("originate without a request")
			break
		}
		var res control.OriginateResult
		res, err = ctl.Originate(ctx, *cmd.Originate)
		rep.Originate = &res
	case wire.OpHangup:
		err = ctl.Hangup(ctx, cmd.Tenant, cmd.Channel, cmd.Cause)
	case wire.OpRedirect:
		err = ctl.Redirect(ctx, cmd.Tenant, cmd.Channel, cmd.Extra, cmd.Context, cmd.Exten, cmd.Priority)
	case wire.OpGetVar:
		rep.Value, err = ctl.GetVar(ctx, cmd.Tenant, cmd.Channel, cmd.Name)
	case wire.OpSetVar:
		err = ctl.SetVar(ctx, cmd.Tenant, cmd.Channel, cmd.Name, cmd.Value)
	case wire.OpLocate:
		var loc control.Location
		if loc, err = ctl.Locate(ctx, cmd.Tenant, cmd.Name); err == nil {
			rep.Location = &loc
		}
	default:
		err = fmt.Errorf("unknown command %q", cmd.Op)
	}
	if err != nil {
		rep.Err, rep.NoChannel = err.Error(), errors.Is(err, control.ErrNoChannel)
		rep.NotRegistered = errors.Is(err, control.ErrNotRegistered)
	}
	return rep
}

// reloadModule runs a reload command with the node's reloader.
func reloadModule(ctx context.Context, reload func(context.Context) error, cmd *wire.Command) *wire.Reply {
	rep := &wire.Reply{ID: cmd.ID}
	if !control.ReloadsDialplan(cmd.Name) {
		rep.Err = fmt.Sprintf("%s: %s", control.ErrNoModule, cmd.Name)
		return rep
	}
	if reload == nil {
		rep.Err = "this node does not reload"
		return rep
	}
	if err := reload(ctx); err != nil {
		rep.Err = err.Error()
	}
	return rep
}
