package ami

import (
	"errors"
	"strconv"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

// parkingActions are res_parking's manager actions (parking_manager.c).
func parkingActions() []action {
	return []action{
		{"ParkedCalls", ClassCall, "List parked calls.", (*session).parkedCalls},
		{"Parkinglots", ClassCall, "Get a list of parking lots", (*session).parkingLots},
	}
}

// parking is the node's parking; nil on central, which parks nothing.
func (ss *session) parking() control.Parking {
	if p, ok := ss.srv.o.Control.(control.Parking); ok {
		return p
	}
	return nil
}

// parkedCalls is manager_parking_status: one ParkedCall event per parked
// call (its ActionID after the body, as res_parking writes it), then
// ParkedCallsComplete with Total.
func (ss *session) parkedCalls(m *Message) bool {
	var calls []control.ParkedInfo
	if p := ss.parking(); p != nil {
		ctx, cancel := ss.actionCtx(10 * time.Second)
		defer cancel()
		var err error
		if calls, err = p.ParkedCalls(ctx, ss.tenant, m.Get("ParkingLot")); err != nil {
			if !errors.Is(err, control.ErrNoLot) {
				ss.srv.log.Warn("ParkedCalls failed", "err", err)
			}
			ss.reply(errorResponse(m, "Requested parking lot could not be found."))
			return true
		}
	} else if m.Get("ParkingLot") != "" {
		ss.reply(errorResponse(m, "Requested parking lot could not be found."))
		return true
	}
	ss.reply(listAck(m, "Parked calls will follow"))
	id := m.Get("ActionID")
	for _, c := range calls {
		w := &builder{}
		w.h("Event", "ParkedCall")
		w.channelBlock("Parkee", &c.Parkee)
		w.h("ParkerDialString", clean(c.ParkerDialString))
		w.h("Parkinglot", clean(c.Lot))
		w.h("ParkingSpace", strconv.Itoa(c.Space))
		w.h("ParkingTimeout", strconv.Itoa(c.Timeout))
		w.h("ParkingDuration", strconv.Itoa(c.Duration))
		if id != "" {
			w.h("ActionID", id)
		}
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ParkedCallsComplete", len(calls), "Total: "+strconv.Itoa(len(calls))))
	return true
}

// parkingLots is manager_parking_lot_list.
func (ss *session) parkingLots(m *Message) bool {
	var lots []control.LotInfo
	if p := ss.parking(); p != nil {
		ctx, cancel := ss.actionCtx(10 * time.Second)
		defer cancel()
		var err error
		if lots, err = p.ParkingLots(ctx, ss.tenant); err != nil {
			ss.reply(errorResponse(m, "Could not create parking lot list"))
			return true
		}
	}
	ss.reply(listAck(m, "Parking lots will follow"))
	id := m.Get("ActionID")
	for _, l := range lots {
		w := &builder{}
		w.h("Event", "Parkinglot")
		if id != "" {
			w.h("ActionID", id)
		}
		w.h("Name", clean(l.Name))
		w.h("StartSpace", strconv.Itoa(l.StartSpace))
		w.h("StopSpace", strconv.Itoa(l.StopSpace))
		w.h("Timeout", strconv.Itoa(l.Timeout))
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ParkinglotsComplete", len(lots)))
	return true
}
