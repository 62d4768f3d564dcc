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
		acked := runAndKill(t, path, 10+rand.IntN(300))
		verifyCrash(t, path, acked)
		t.Logf("iteration %d: %d acknowledgements verified", it, len(acked))
	}
}

type ack struct {
	kind string
	id   int64
	g, i int
}

func runAndKill(t *testing.T, path string, killAfter int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
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
