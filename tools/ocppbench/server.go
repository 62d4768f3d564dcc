package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/app"
)

// server is a running child process serving chargers.
type server struct {
	kind    string
	url     string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   *bufio.Scanner
	dataDir string
	mu      sync.Mutex
	exited  chan struct{}
	waitErr error
}

// startServer re-executes this binary as a server of the given kind.
// stderr receives the child's logs.
func startServer(ctx context.Context, kind string, stderr io.Writer) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	s := &server{kind: kind, exited: make(chan struct{})}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	if kind == Appliance {
		if s.dataDir, err = os.MkdirTemp("", "ocppbench-"); err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, dataDirEnv+"="+s.dataDir)
	}
	cmd.Stderr = stderr
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	s.cmd = cmd
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	s.lines = bufio.NewScanner(stdout)
	s.lines.Buffer(make([]byte, 64<<10), 1<<20)

	type first struct {
		line string
		err  error
	}
	got := make(chan first, 1)
	go func() {
		l, err := s.readLine()
		got <- first{l, err}
	}()
	select {
	case f := <-got:
		if f.err != nil {
			s.close()
			return nil, fmt.Errorf("%s server: %w", kind, f.err)
		}
		addr, ok := strings.CutPrefix(f.line, "addr ")
		if !ok {
			s.close()
			return nil, fmt.Errorf("%s server: unexpected %q", kind, f.line)
		}
		s.url = addr
	case <-time.After(30 * time.Second):
		s.close()
		return nil, fmt.Errorf("%s server: not ready after 30s", kind)
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	}
	return s, nil
}

func (s *server) readLine() (string, error) {
	if s.lines.Scan() {
		return s.lines.Text(), nil
	}
	if err := s.lines.Err(); err != nil {
		return "", err
	}
	return "", errors.New("server exited")
}

// command sends one command and returns the reply without its first word.
func (s *server) command(cmd, want string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintln(s.stdin, cmd); err != nil {
		return "", fmt.Errorf("%s server: %w", s.kind, err)
	}
	line, err := s.readLine()
	if err != nil {
		return "", fmt.Errorf("%s server: %w", s.kind, err)
	}
	word, rest, _ := strings.Cut(line, " ")
	if word != want {
		return "", fmt.Errorf("%s server: %s: %s", s.kind, cmd, line)
	}
	return rest, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// mem asks the child to collect garbage and report, then reads its RSS.
func (s *server) mem() (memStats, uint64, error) {
	var m memStats
	rest, err := s.command("mem", "mem")
	if err != nil {
		return m, 0, err
	}
	if err := json.Unmarshal([]byte(rest), &m); err != nil {
		return m, 0, err
	}
	rss, err := readRSS(s.pid())
	return m, rss, err
}

// startCapture starts a capture of kind "prof" (CPU profile) or "trace"
// (runtime execution trace) into file; the returned function stops it.
func (s *server) startCapture(kind, file string) (stop func() error, err error) {
	if _, err := s.command(kind+"-start "+file, "ok"); err != nil {
		return nil, err
	}
	return func() error {
		_, err := s.command(kind+"-stop", "ok")
		return err
	}, nil
}

// close stops the child and removes its data directory.
func (s *server) close() {
	s.stop()
	s.cleanup()
}

// stop stops the child and keeps its data directory; stopping a stopped
// child does nothing.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_, _ = fmt.Fprintln(s.stdin, "quit")
	_ = s.stdin.Close()
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) cleanup() {
	if s.dataDir != "" {
		_ = os.RemoveAll(s.dataDir)
	}
}

// dbPath is the appliance's database file ("" for others).
func (s *server) dbPath() string {
	if s.dataDir == "" {
		return ""
	}
	return filepath.Join(s.dataDir, app.DBFile)
}

// dbSize is the size of the appliance's database file (0 for others).
func (s *server) dbSize() int64 {
	if s.dataDir == "" {
		return 0
	}
	fi, err := os.Stat(s.dbPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readRSS returns VmRSS of a process in bytes.
func readRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// procIO is the part of /proc/PID/io that matters here.
type procIO struct {
	WriteBytes, WChar, SyscW int64
}

func readIO(pid int) (procIO, error) {
	var p procIO
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return p, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "write_bytes":
			p.WriteBytes = n
		case "wchar":
			p.WChar = n
		case "syscw":
			p.SyscW = n
		}
	}
	return p, nil
}

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

// readCPU returns the user and system CPU time of a process (all threads).
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields start after the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	// After the name: state(0) ... utime is field 14 overall, index 11 here.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// cpuSample is the machine's busy CPU time and this process's own.
type cpuSample struct {
	busy, irq, self time.Duration
}

// readMachineCPU reads /proc/stat's aggregate line: busy is everything but
// idle and iowait (steal included); irq is hard and soft interrupt time,
// which over loopback is mostly this benchmark's own network traffic.
func readMachineCPU() (cpuSample, error) {
	var s cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s, errors.New("unexpected /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, err
		}
		switch i {
		case 3, 4: // idle, iowait
		case 8, 9: // guest time is already counted in user
		case 5, 6:
			s.irq += time.Duration(n) * time.Second / clkTck
			busy += n
		default:
			busy += n
		}
	}
	s.busy = time.Duration(busy) * time.Second / clkTck
	s.self, err = readCPU(os.Getpid())
	return s, err
}
