package cdrstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// BenchmarkWriter measures group-committed CDR writes on SQLite with many
// concurrent callers (one blocked Write per simulated call).
func BenchmarkWriter(b *testing.B) {
	for _, par := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("callers=%dxGOMAXPROCS", par), func(b *testing.B) {
			st, err := store.Open(context.Background(), store.Options{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			w := NewWriter(st, nil, WriterOptions{})
			var seq atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := testRecord(int(seq.Add(1)))
					if err := w.Write(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			if err := w.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			s := w.Stats()
			b.ReportMetric(float64(s.Records)/elapsed.Seconds(), "records/s")
			if s.Batches > 0 {
				b.ReportMetric(float64(s.Records)/float64(s.Batches), "records/tx")
			}
		})
	}
}
