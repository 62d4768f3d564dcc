package watchtower_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
)

// The replica child process of TestScaleOut.
const (
	envReplicaConfig = "CONSTELLATION_WT_REPLICA_CONFIG"
	replicaReady     = "WATCHTOWER-REPLICA-READY"
)

// TestHelperReplica is a watchtower replica process; it does nothing
// unless TestScaleOut re-executed the test binary into it. It runs the
// configuration in envReplicaConfig until SIGTERM, logging every record
// it applies.
func TestHelperReplica(t *testing.T) {
	file := os.Getenv(envReplicaConfig)
	if file == "" {
		t.Skip("the replica child process of TestScaleOut; runs only when re-executed by it")
	}
	cfg, err := watchtower.LoadConfig(file)
	must(t, err)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := watchtower.Start(ctx, cfg, nil, log)
	must(t, err)
	defer w.Close()
	must(t, w.WaitBroker(ctx))
	fmt.Println(replicaReady)
	<-ctx.Done()
}

// replica is a run of the replica process.
type replica struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func startReplica(t *testing.T, configFile, logFile string) *replica {
	t.Helper()
	logOut, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	must(t, err)
	defer logOut.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplica$", "-test.count=1")
	cmd.Env = append(os.Environ(), envReplicaConfig+"="+configFile)
	cmd.Stderr = logOut
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	r := &replica{cmd: cmd, log: logFile, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == replicaReady {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(r.kill)
	select {
	case <-ready:
	case <-r.exited:
		t.Fatalf("the replica exited before it was ready:\n%s", tailFile(logFile))
	case <-time.After(guard):
		t.Fatalf("the replica is not ready after %v:\n%s", guard, tailFile(logFile))
	}
	return r
}

func (r *replica) kill() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// applied is the number of records the replica's log says it applied.
func (r *replica) applied(t *testing.T) int {
	data, err := os.ReadFile(r.log)
	must(t, err)
	return strings.Count(string(data), "msg=record ")
}

func tailFile(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 8<<10 {
		data = data[len(data)-8<<10:]
	}
	return string(data)
}

// Two replicas on Mosquitto and PostgreSQL share the sites' messages;
// one is SIGKILLed in the middle of the stream, the sites go on, and it
// comes back under its client id: every session arrives in the cloud
// once, with every reading.
func TestScaleOut(t *testing.T) {
	pg := os.Getenv(cloudtest.EnvPostgres)
	if pg == "" {
		t.Skipf("%s is not set: skipping the replicas test, which needs PostgreSQL", cloudtest.EnvPostgres)
	}
	m := cloudtest.StartMosquitto(t)
	dsn := cloudtest.PostgresSchema(t, pg)
	onStore := onEngine(cloudtest.Engine{Driver: fleet.Postgres, DSN: dsn})
	onBroker := onMosquitto(t, m)
	tw := startTower(t, onBroker, onStore) // replica A, in this process

	// Replica B: the same broker, group and store, its own client id.
	dir := t.TempDir()
	var cfgB watchtower.Config
	onBroker(&cfgB)
	onStore(&cfgB)
	cfgB.MQTT.ClientID = "replica-b-" + fleet.NewSecret()[:8]
	cfgB.DataDir, cfgB.HTTP.Listen = filepath.Join(dir, "b"), "127.0.0.1:0"
	cfgB.OperatorTokenFile = filepath.Join(dir, "b-operator-token")
	configB := filepath.Join(dir, "b.toml")
	f, err := os.Create(configB)
	must(t, err)
	must(t, toml.NewEncoder(f).Encode(cfgB))
	must(t, f.Close())
	logB := filepath.Join(dir, "b.log")
	b := startReplica(t, configB, logB)

	var sites []*appliance
	for i := range 4 {
		site := fmt.Sprintf("depot-%d", i)
		sites = append(sites, startAppliance(t, m.URL, site, tw.enroll(t, site)))
	}
	txs := make([][]int64, len(sites))
	round := func(r int) {
		for i, a := range sites {
			for c := range 3 {
				txs[i] = append(txs[i], a.session(t, charging.ChargerID(fmt.Sprintf("CP%d", c+1)), 6+r))
			}
		}
	}
	allSynced := func() bool {
		for i, a := range sites {
			if !synced(t, tw, a, txs[i]) {
				return false
			}
		}
		return true
	}

	round(0)
	waitFor(t, "both replicas to apply records", func() bool { return tw.Handled() > 0 && b.applied(t) > 0 })
	round(1)
	b.kill() // mid-stream: the sites are still sending round 1
	t.Logf("replica B killed after applying %d records (A: %d messages)", b.applied(t), tw.Handled())
	handledA := tw.Handled()
	round(2)
	waitFor(t, "replica A to go on alone", func() bool { return tw.Handled() > handledA })
	b = startReplica(t, configB, logB) // back under its client id: its session's messages follow
	round(3)
	waitFor(t, "every session in the cloud, once, with every reading", allSynced)
	t.Logf("records applied by B over its two runs: %d; messages taken by A: %d", b.applied(t), tw.Handled())
	if strings.Contains(tw.logs.String(), "message refused") || strings.Contains(tailFile(logB), "message refused") {
		t.Errorf("a replica refused a message:\n%s", tw.logs.String())
	}
}
