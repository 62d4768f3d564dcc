// Command tap taps a card on a development appliance's simulated reader,
// through its local API (POST /api/v1/station/tap): the station then
// handles it as a driver's card on a real reader.
//
//	tap [-api http://127.0.0.1:8000] UID
//
// UID is the card's UID in hex (4, 7 or 10 bytes; ':' '-' or ' ' between
// bytes allowed), e.g. 04A1B2C3.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tap:", err)
		os.Exit(1)
	}
}

// run parses args, taps the card and prints what the appliance read.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tap", flag.ContinueOnError)
	api := fs.String("api", "http://127.0.0.1:8000", "the appliance's local API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: tap [-api URL] UID (the card's UID in hex, e.g. 04A1B2C3)")
	}
	body, err := json.Marshal(map[string]string{"uid": fs.Arg(0)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(*api, "/")+"/api/v1/station/tap", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		UID   string `json:"uid"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer); err != nil {
		return fmt.Errorf("%s: unreadable answer: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s: %s", resp.Status, answer.Error)
	}
	fmt.Fprintf(out, "tapped %s\n", answer.UID)
	return nil
}
