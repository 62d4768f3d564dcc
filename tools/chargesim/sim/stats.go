package sim

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats counts what stations do. All methods are safe for concurrent use;
// one Stats is shared by a whole fleet.
type Stats struct {
	Connected   atomic.Int64 // stations connected right now
	Connects    atomic.Int64 // successful dials
	CallsSent   atomic.Int64
	CallsOK     atomic.Int64 // answered with a CALLRESULT
	CallsFailed atomic.Int64 // CALLERROR, timeout or connection lost
	TxStarted   atomic.Int64
	TxStopped   atomic.Int64
	Latency     Histogram // CALL to CALLRESULT
}

// Snapshot is a copy of Stats' counters at one moment.
type Snapshot struct {
	Connected, Connects, CallsSent, CallsOK, CallsFailed, TxStarted, TxStopped int64
	P50, P99, Max                                                              time.Duration
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{
		Connected: s.Connected.Load(), Connects: s.Connects.Load(),
		CallsSent: s.CallsSent.Load(), CallsOK: s.CallsOK.Load(), CallsFailed: s.CallsFailed.Load(),
		TxStarted: s.TxStarted.Load(), TxStopped: s.TxStopped.Load(),
		P50: s.Latency.Quantile(0.50), P99: s.Latency.Quantile(0.99), Max: s.Latency.Max(),
	}
}

// String formats a snapshot as one progress line.
func (s Snapshot) String() string {
	return fmt.Sprintf("connected=%d calls sent=%d ok=%d failed=%d tx started=%d stopped=%d latency p50=%s p99=%s max=%s",
		s.Connected, s.CallsSent, s.CallsOK, s.CallsFailed, s.TxStarted, s.TxStopped, s.P50, s.P99, s.Max)
}

// Histogram records durations in log-linear buckets (16 per power of two
// of microseconds, so quantiles are within about 6%) without locks. The
// zero value is ready to use.
type Histogram struct {
	buckets [64 * subBuckets]atomic.Int64
	count   atomic.Int64
	max     atomic.Int64
}

const subBits = 4
const subBuckets = 1 << subBits

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	e := bits.Len64(us) - subBits - 1 // shift that leaves subBits+1 bits
	return (e+1)*subBuckets + int(us>>uint(e)) - subBuckets
}

// lowerBound is the smallest value in bucket i, in microseconds.
func lowerBound(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	e := i/subBuckets - 1
	return uint64(i%subBuckets+subBuckets) << uint(e)
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	h.buckets[bucketOf(us)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// Count is the number of recorded durations.
func (h *Histogram) Count() int64 { return h.count.Load() }

// Max is the largest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0..1) as the lower bound of its bucket
// (capped at Max); 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			d := time.Duration(lowerBound(i)) * time.Microsecond
			return min(d, h.Max())
		}
	}
	return h.Max()
}
