package charging

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/store"
)

const (
	crashDBEnv         = "CONSTELLATION_CRASH_DB"
	crashIterationsEnv = "CONSTELLATION_CRASH_ITERATIONS"
)

// TestCrashChild is the writer process of TestCrashDurability; it does
// nothing unless started by it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("helper process of TestCrashDurability")
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(context.Background(), db, Config{Policy: PolicyConfig{Default: AuthPolicy{Mode: PolicyOpen}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) { // one write syscall per acknowledgement
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				tx, _, err := svc.StartTransaction(context.Background(), StartRequest{ChargerID: "CP", ConnectorID: g + 1,
					IDTag: "tag", MeterStartWh: int64(i), Timestamp: t0.Add(time.Duration(i) * time.Second)})
				if err != nil {
					t.Error(err)
					return
				}
				ack("tx %d %d %d", tx.ID, g, i)
				err = svc.RecordMeterValues(context.Background(), MeterValues{ChargerID: "CP", ConnectorID: g + 1,
					TransactionID: tx.ID, Readings: []MeterReading{reading(t0, strconv.Itoa(i))}})
				if err != nil {
					t.Error(err)
					return
				}
				ack("mv %d %d %d", tx.ID, g, i)
			}
		})
	}
	wg.Wait() // only errors end the writers; the parent kills the process
}

// TestCrashDurability kills a writing child process at a random moment and
// checks that everything it acknowledged survived, exactly once.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	iterations := 3
	if v := os.Getenv(crashIterationsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", crashIterationsEnv, err)
		}
		iterations = n
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for it := range iterations {
		acked := runAndKill(t, path, "TestCrashChild", 10+rand.IntN(300))
		verifyCrash(t, path, acked)
		t.Logf("iteration %d: %d acknowledgements verified", it, len(acked))
	}
}

type ack struct {
	kind string
	id   int64
	g, i int
}

// runAndKill runs the test function child as a writer process on the
// database at path, kills it after killAfter acknowledgements and returns
// every acknowledgement it printed.
func runAndKill(t *testing.T, path, child string, killAfter int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []ack
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var a ack
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d %d", &a.kind, &a.id, &a.g, &a.i); err != nil {
			continue // test framework output
		}
		acked = append(acked, a)
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true // keep reading what was acknowledged before the kill
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child exited after %d acknowledgements", len(acked))
	}
	return acked
}

func verifyCrash(t *testing.T, path string, acked []ack) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	svc, err := NewService(context.Background(), db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := svc.Transactions(context.Background(), TransactionFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for len(all)%1000 == 0 && len(all) > 0 { // page through everything
		more, err := svc.Transactions(context.Background(), TransactionFilter{Limit: 1000, After: all[len(all)-1].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			break
		}
		all = append(all, more...)
	}
	count := map[[2]int64]int{}
	for _, tx := range all {
		count[[2]int64{int64(tx.ConnectorID), tx.MeterStartWh}]++
	}
	for _, a := range acked {
		tx, readings, err := svc.Transaction(context.Background(), a.id)
		if err != nil {
			t.Fatalf("acknowledged %s %d lost: %v", a.kind, a.id, err)
		}
		if tx.ConnectorID != a.g+1 || tx.MeterStartWh != int64(a.i) {
			t.Fatalf("transaction %d is %+v, acknowledged for writer %d op %d", a.id, tx, a.g, a.i)
		}
		if n := count[[2]int64{int64(a.g + 1), int64(a.i)}]; n != 1 {
			t.Fatalf("start of writer %d op %d stored %d times", a.g, a.i, n)
		}
		if a.kind == "mv" && (len(readings) != 1 || readings[0].Value != strconv.Itoa(a.i)) {
			t.Fatalf("acknowledged meter values of transaction %d: %+v", a.id, readings)
		}
	}
}

// TestCrashChildEvents is the writer process of TestCrashDurabilityEvents;
// it does nothing unless started by it.
func TestCrashChildEvents(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("helper process of TestCrashDurabilityEvents")
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(context.Background(), db, Config{Policy: PolicyConfig{Default: AuthPolicy{Mode: PolicyOpen}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				for _, ev := range crashEvents(g, i) {
					res, err := svc.TransactionEvent(context.Background(), ev)
					if err != nil {
						t.Error(err)
						return
					}
					ack("%s %d %d %d", ev.Kind, res.Transaction.ID, g, i)
				}
			}
		})
	}
	wg.Wait() // only errors end the writers; the parent kills the process
}

// crashEvents is session i of writer g: Started (meter i Wh), Updated (a
// reading), Ended (meter i+100 Wh).
func crashEvents(g, i int) []TransactionEvent {
	at := t0.Add(time.Duration(i) * time.Minute)
	ev := func(kind TransactionEventKind, seq int, r MeterReading) TransactionEvent {
		return TransactionEvent{ChargerID: "CP", ChargerTxID: fmt.Sprintf("w%d-%d", g, i), Protocol: "ocpp2.0.1", Kind: kind,
			SeqNo: seq, Timestamp: r.Timestamp, EVSEID: g + 1, IDToken: "tag", Readings: []MeterReading{r}}
	}
	return []TransactionEvent{
		ev(EventStarted, 0, MeterReading{Timestamp: at, Value: strconv.Itoa(i), Unit: "Wh", Context: ContextTransactionBegin}),
		ev(EventUpdated, 1, MeterReading{Timestamp: at.Add(time.Second), Value: strconv.Itoa(i + 50), Unit: "Wh"}),
		ev(EventEnded, 2, MeterReading{Timestamp: at.Add(2 * time.Second), Value: strconv.Itoa(i + 100), Unit: "Wh", Context: ContextTransactionEnd}),
	}
}

// TestCrashDurabilityEvents kills a process writing transaction events at
// a random moment and checks that every acknowledged event survived,
// exactly once, and is still recognised as a duplicate when re-sent.
func TestCrashDurabilityEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for it := range 3 {
		acked := runAndKill(t, path, "TestCrashChildEvents", 10+rand.IntN(300))
		verifyCrashEvents(t, path, acked)
		t.Logf("iteration %d: %d acknowledgements verified", it, len(acked))
	}
}

func verifyCrashEvents(t *testing.T, path string, acked []ack) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	svc, err := NewService(context.Background(), db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	sessions := map[string]int{}
	for after := int64(0); ; {
		page, err := svc.Transactions(context.Background(), TransactionFilter{Limit: 1000, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, tx := range page {
			sessions[tx.ChargerTxID]++
		}
		after = page[len(page)-1].ID
	}
	for _, a := range acked {
		evs := crashEvents(a.g, a.i)
		id := evs[0].ChargerTxID
		if n := sessions[id]; n != 1 {
			t.Fatalf("session %s stored %d times", id, n)
		}
		tx, readings, err := svc.Transaction(context.Background(), a.id)
		if err != nil {
			t.Fatalf("acknowledged %s of %s lost: %v", a.kind, id, err)
		}
		if tx.ChargerTxID != id || tx.MeterStartWh != int64(a.i) || tx.ConnectorID != a.g+1 || tx.StartedImplicitly {
			t.Fatalf("transaction %d is %+v, acknowledged for %s", a.id, tx, id)
		}
		var ev TransactionEvent
		switch TransactionEventKind(a.kind) {
		case EventStarted:
			ev = evs[0]
		case EventUpdated:
			ev = evs[1]
			if len(readings) < 2 || readings[1].Value != strconv.Itoa(a.i+50) {
				t.Fatalf("acknowledged update of %s: readings %+v", id, readings)
			}
		case EventEnded:
			ev = evs[2]
			if tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != int64(a.i+100) {
				t.Fatalf("acknowledged end of %s: %+v", id, tx)
			}
		default:
			t.Fatalf("unknown acknowledgement %+v", a)
		}
		res, err := svc.TransactionEvent(context.Background(), ev)
		if err != nil || !res.Duplicate || res.Transaction.ID != a.id {
			t.Fatalf("re-sent %s of %s after the crash: %+v %v", a.kind, id, res, err)
		}
	}
}
