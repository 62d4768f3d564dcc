package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestHelpDocumentsFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"--help"}, &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help: %v", err)
	}
	for _, f := range []string{"-url", "-stations", "-connectors", "-id-prefix", "-tags", "-meter-interval", "-session", "-sessions",
		"-password", "-password-file", "-ca", "-cert", "-key", "-progress", "-load", "-action", "-rate", "-duration",
		"-ocpp", "-late-token", "-stop-by-unplug", "-notify-events", "-event-stream"} {
		if !regexp.MustCompile(`(?m)^  ` + f + `( |$)`).MatchString(out.String()) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

func TestPasswords(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("# comment\nCP2 secret two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw, err := passwords("pw-{id}", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := pw("CP1"); got != "pw-CP1" {
		t.Errorf("template: %q", got)
	}
	if got := pw("CP2"); got != "secret two" {
		t.Errorf("file: %q", got)
	}
	if pw, _ := passwords("", ""); pw != nil {
		t.Error("no passwords configured, but a lookup returned")
	}
	if err := os.WriteFile(file, []byte("lonely\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := passwords("", file); err == nil {
		t.Error("malformed password file accepted")
	}
}

func TestBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--cert", "x.pem"}, &out, &out); err == nil {
		t.Error("--cert without --key accepted")
	}
	if err := run(t.Context(), []string{"extra"}, &out, &out); err == nil {
		t.Error("positional argument accepted")
	}
	if err := run(t.Context(), []string{"--ocpp", "3.0"}, &out, &out); err == nil || !strings.Contains(err.Error(), "3.0") {
		t.Errorf("--ocpp 3.0: %v", err)
	}
	if err := run(t.Context(), []string{"--late-token", "--sessions", "1"}, &out, &out); err == nil {
		t.Error("--late-token accepted with OCPP 1.6")
	}
}
