package control

import (
	"context"
	"errors"

	"github.com/entvoice/entvoice/internal/events"
)

// Parking is what AMI (res_parking's ParkedCalls and Parkinglots) and the
// API read of a node's parked calls. A node's Controller implements it
// (ask with a type assertion, as for Conferences); scope is the caller's
// tenant, as for Controller.
type Parking interface {
	// ParkedCalls lists the parked calls in a lot ("": every lot).
	ParkedCalls(ctx context.Context, scope, lot string) ([]ParkedInfo, error)
	// ParkingLots lists the lots.
	ParkingLots(ctx context.Context, scope string) ([]LotInfo, error)
}

// ErrNoLot is a parking lot that does not exist ("Requested parking lot
// could not be found.").
var ErrNoLot = errors.New("no such parking lot")

// ParkedInfo is a parked call (the ParkedCall event's body).
type ParkedInfo struct {
	Parkee           events.Snapshot `json:"parkee"`
	ParkerDialString string          `json:"parker_dial_string"`
	Lot              string          `json:"parkinglot"`
	Space            int             `json:"space"`
	Timeout          int             `json:"timeout"`  // seconds left
	Duration         int             `json:"duration"` // seconds parked
}

// LotInfo is a parking lot (the Parkinglot event).
type LotInfo struct {
	Name       string `json:"name"`
	StartSpace int    `json:"start_space"`
	StopSpace  int    `json:"stop_space"`
	Timeout    int    `json:"timeout"`
}
