package v2

import "sync"

// maxTrackedReports bounds the full-inventory reports remembered per
// charger; the oldest is forgotten first (its parts are then merged).
const maxTrackedReports = 4

// reportTracker remembers the FullInventory base reports the CSMS asked
// chargers for, so that the first part of one, and only that, replaces the
// stored device model. A report is tracked from the moment its request is
// sent (the charger may send its first part before the CSMS has read the
// answer to the request) until its last part (tbc false) arrives.
type reportTracker struct {
	mu sync.Mutex
	m  map[string][]trackedReport // by charger, oldest first
}

type trackedReport struct {
	requestID int
	started   bool // a part has been recorded
}

// requested starts tracking full report requestID of charger.
func (t *reportTracker) requested(charger string, requestID int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string][]trackedReport{}
	}
	rs := t.remove(charger, requestID)
	if len(rs) >= maxTrackedReports {
		rs = rs[1:]
	}
	t.m[charger] = append(rs, trackedReport{requestID: requestID})
}

// declined forgets requestID of charger: the charger will not send it.
func (t *reportTracker) declined(charger string, requestID int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set(charger, t.remove(charger, requestID))
}

// replaces reports whether part seqNo of report requestID replaces the
// stored device model: the first part of a tracked full report, before
// any other part of it was recorded.
func (t *reportTracker) replaces(charger string, requestID, seqNo int) bool {
	if seqNo != 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.m[charger] {
		if r.requestID == requestID {
			return !r.started
		}
	}
	return false
}

// received notes that a part of report requestID was recorded; the last
// part (tbc false) ends the tracking.
func (t *reportTracker) received(charger string, requestID int, tbc bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := t.m[charger]
	for i := range rs {
		if rs[i].requestID != requestID {
			continue
		}
		if !tbc {
			t.set(charger, t.remove(charger, requestID))
			return
		}
		rs[i].started = true
		return
	}
}

// remove returns charger's tracked reports without requestID; t.mu is held.
func (t *reportTracker) remove(charger string, requestID int) []trackedReport {
	rs := t.m[charger]
	out := rs[:0:0]
	for _, r := range rs {
		if r.requestID != requestID {
			out = append(out, r)
		}
	}
	return out
}

// set stores charger's tracked reports, dropping the entry when empty; t.mu is held.
func (t *reportTracker) set(charger string, rs []trackedReport) {
	if len(rs) == 0 {
		delete(t.m, charger)
		return
	}
	t.m[charger] = rs
}
