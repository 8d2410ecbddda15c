package hub

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// CDR intake: a node's batches are upserted by uniqueid (a batch resent
// after a lost ack changes nothing), then the node's acked sequence is
// recorded, then the batch is acked. docs/cluster.md, "CDRs, exactly once".

// queueCDRs hands a batch to storeCDRs. A full queue waits for the
// database: the node is not silent meanwhile.
func (c *nodeLink) queueCDRs(ctx context.Context, batch []wire.ShippedCDR, batches chan<- []wire.ShippedCDR, intakeErr <-chan error) error {
	c.heard.Store(heardBusy)
	defer func() { c.heard.Store(time.Now().UnixNano()) }()
	select {
	case batches <- batch:
		return nil
	case err := <-intakeErr:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storeCDRs stores the link's CDR batches in order and acks each. On a
// failure it reports to errc (the receiver ends the stream: the node
// resends from its last ack) and discards what is still queued.
func (c *nodeLink) storeCDRs(ctx context.Context, batches <-chan []wire.ShippedCDR, errc chan<- error) {
	defer func() {
		for range batches {
		}
	}()
	for batch := range batches {
		seq, err := c.h.intake(ctx, c.node.Name, batch)
		if err != nil {
			c.log.Warn("CDR intake failed; the node will resend", "err", err)
			errc <- status.Error(codes.Unavailable, "CDR intake failed: "+err.Error())
			return
		}
		select {
		case c.acks <- seq:
		case <-ctx.Done():
			errc <- ctx.Err()
			return
		}
	}
}

// intake stores a batch by uniqueid and then records the acked sequence.
func (h *Hub) intake(ctx context.Context, name string, batch []wire.ShippedCDR) (int64, error) {
	recs := make([]cdr.Record, len(batch))
	var maxSeq int64
	for i, b := range batch {
		recs[i] = b.Record
		if recs[i].Node == "" {
			recs[i].Node = name
		}
		maxSeq = max(maxSeq, b.Seq)
	}
	if err := cdrstore.Insert(ctx, h.o.Store, recs); err != nil {
		return 0, err
	}
	if err := h.reg.setCDRAcked(ctx, name, maxSeq); err != nil {
		return 0, err
	}
	return maxSeq, nil
}
