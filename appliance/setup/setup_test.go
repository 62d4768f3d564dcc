package setup

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/firstboot"
)

// sshKey is a well-formed ed25519 public key line.
func sshKey(comment string) string {
	blob := binary.BigEndian.AppendUint32(nil, 11)
	blob = append(blob, "ssh-ed25519"...)
	blob = binary.BigEndian.AppendUint32(blob, 32)
	blob = append(blob, make([]byte, 32)...)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

type running struct {
	url string
	srv *Server
}

// serve runs the setup page on a real loopback socket.
func serve(t *testing.T, opts Options) running {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return running{url: "http://" + ln.Addr().String() + "/", srv: s}
}

var defaultOpts = Options{
	SSID: "Constellation-7F3A", Password: "k7m2q9xw4hfp3ncr",
	Current:    firstboot.Settings{AccessPoint: firstboot.AccessPoint{SSID: "Constellation-7F3A"}, Display: firstboot.Display{Language: "en"}},
	ChargerURL: "ws://10.42.0.1:9000/ocpp/",
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func get(t *testing.T, p running) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// token reads the form's token off the page, as a browser would send it.
func token(t *testing.T, p running) string {
	t.Helper()
	_, body := get(t, p)
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token in the page:\n%s", body)
	}
	return m[1]
}

// post sends form as the page's form does; mutate changes the request.
func post(t *testing.T, p running, form url.Values, mutate func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(p.url, "/"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if mutate != nil {
		mutate(req)
	}
	return do(t, req)
}

var goodForm = url.Values{
	"site_name":              {"  Depot 7  "},
	"time_zone":              {"Europe/Madrid"},
	"ssh_authorized_keys":    {sshKey("alice@laptop") + "\r\n\r\n  " + sshKey("bob") + "\n"},
	"cloud.url":              {"https://watchtower.example.com"},
	"cloud.broker":           {"tls://watchtower.example.com:8883"},
	"cloud.site":             {"depot-7"},
	"cloud.enrollment_token": {"tok-123456"},
	"uplink.wifi.ssid":       {"Depot office"},
	"uplink.wifi.password":   {"office-wifi-pass"},
	"access_point.ssid":      {"Depot7-Chargers"},
	"access_point.password":  {"chargers-secret"},
	"display.language":       {"es"},
	"chargers":               {"CP-1 cp1-basic-auth-password\r\n\r\n  CP-2  \n"},
}

func withToken(form url.Values, tok string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set(tokenField, tok)
	return out
}

// The page shows the access point's name and generated password, escaped,
// and a field for every key of the settings file.
func TestPageShowsTheAccessPoint(t *testing.T) {
	opts := defaultOpts
	opts.Current.SiteName = `<script>alert("x")</script>`
	p := serve(t, opts)
	status, body := get(t, p)
	if status != http.StatusOK {
		t.Fatalf("GET: %d", status)
	}
	for _, want := range []string{"Constellation-7F3A", "k7m2q9xw4hfp3ncr", `value="Constellation-7F3A"`, `<option value="es">Español</option>`,
		`<option value="en" selected>`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("the site name is not escaped")
	}
	for _, f := range fields {
		if !strings.Contains(body, `name="`+f.key+`"`) {
			t.Errorf("no field for %s", f.key)
		}
	}
	for _, f := range []string{keysField, chargersField} {
		if !strings.Contains(body, `name="`+f+`"`) {
			t.Errorf("no field for %s", f)
		}
	}
}

// Good settings are written once, durably and private, as a settings file
// that decodes to what was sent; the page says what happens next.
func TestPostGoodSettings(t *testing.T) {
	p := serve(t, defaultOpts)
	if err := os.MkdirAll(filepath.Dir(p.srv.File()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.srv.File()+firstboot.RejectedSuffix, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := token(t, p)
	status, body := post(t, p, withToken(goodForm, tok), nil)
	if status != http.StatusOK || !strings.Contains(body, "Applying the settings") || !strings.Contains(body, "Depot7-Chargers") ||
		!strings.Contains(body, "ws://10.42.0.1:9000/ocpp/") {
		t.Fatalf("POST: %d\n%s", status, body)
	}
	if strings.Contains(body, "chargers-secret") || strings.Contains(body, "tok-123456") || strings.Contains(body, "cp1-basic-auth-password") {
		t.Error("a secret was written into the page")
	}
	if !strings.Contains(body, "The 2 charger(s) you listed are admitted") {
		t.Errorf("the page does not say the chargers are admitted:\n%s", body)
	}
	data, err := os.ReadFile(p.srv.File())
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p.srv.File()); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := firstboot.Decode(data)
	if err != nil {
		t.Fatalf("the written file does not decode: %v\n%s", err, data)
	}
	want := firstboot.Settings{
		SiteName: "Depot 7", TimeZone: "Europe/Madrid", SSHAuthorizedKeys: []string{sshKey("alice@laptop"), sshKey("bob")},
		Cloud:       firstboot.Cloud{URL: "https://watchtower.example.com", Broker: "tls://watchtower.example.com:8883", Site: "depot-7", EnrollmentToken: "tok-123456"},
		Uplink:      firstboot.Uplink{WiFi: firstboot.WiFi{SSID: "Depot office", Password: "office-wifi-pass"}},
		AccessPoint: firstboot.AccessPoint{SSID: "Depot7-Chargers", Password: "chargers-secret"},
		Display:     firstboot.Display{Language: "es"},
		Chargers:    []firstboot.Charger{{ID: "CP-1", Password: "cp1-basic-auth-password"}, {ID: "CP-2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("written settings\n%+v\nwant\n%+v", got, want)
	}
	if _, err := os.Stat(p.srv.File() + firstboot.RejectedSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Error("the old refused file is still there")
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p.srv.File()), ".*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	// Pending: the page says so, and takes no second form until applied.
	if status, body := get(t, p); status != http.StatusOK || !strings.Contains(body, "being applied") || strings.Contains(body, "<form") {
		t.Errorf("GET while pending: %d\n%s", status, body)
	}
	if status, _ := post(t, p, withToken(url.Values{"site_name": {"Other"}}, tok), nil); status != http.StatusConflict {
		t.Errorf("second POST while pending: %d, want 409", status)
	}
	if again, _ := os.ReadFile(p.srv.File()); string(again) != string(data) {
		t.Error("the pending file changed")
	}
}

// Bad settings: 400 naming the field, the form again with the non-secret
// values and without the secrets, nothing written.
func TestPostBadSettings(t *testing.T) {
	p := serve(t, defaultOpts)
	form := withToken(goodForm, token(t, p))
	form.Set("access_point.password", "short")
	form.Set("cloud.broker", "http://watchtower.example.com")
	form.Set(keysField, sshKey("a")+"\nssh-dss AAAA")
	status, body := post(t, p, form, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("POST: %d, want 400\n%s", status, body)
	}
	for _, want := range []string{"is 5 characters, want 8 to 63", "cloud.broker", "key 2: key type", `value="Depot 7"`, `value="Depot7-Chargers"`, "ssh-dss AAAA"} {
		if !strings.Contains(body, want) {
			t.Errorf("the answer lacks %q", want)
		}
	}
	// Each problem sits under its field.
	if i, j := strings.Index(body, `name="access_point.password"`), strings.Index(body, "is 5 characters"); i < 0 || j < i {
		t.Error("the password's problem is not under its field")
	}
	for _, secret := range []string{"short", "tok-123456", "office-wifi-pass"} {
		if strings.Contains(body, `"`+secret+`"`) {
			t.Errorf("secret %q written back into the form", secret)
		}
	}
	if strings.Contains(body, "cp1-basic-auth-password") || chargersShown(t, body) != "CP-2" {
		t.Errorf("chargers shown again: %q, want CP-2 alone (CP-1's line has a password)", chargersShown(t, body))
	}
	if _, err := os.Stat(p.srv.File()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
	// Invalid UTF-8 is named too.
	form = withToken(url.Values{"site_name": {"\xff"}}, token(t, p))
	if status, body := post(t, p, form, nil); status != http.StatusBadRequest || !strings.Contains(body, "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %d", status)
	}
}

// The form needs this process's token and must come from the page itself.
func TestPostRefusedWithoutTokenOrFromElsewhere(t *testing.T) {
	p := serve(t, defaultOpts)
	other := serve(t, defaultOpts) // a restarted appliance: another token
	stale := token(t, other)
	cases := []struct {
		name   string
		form   url.Values
		mutate func(*http.Request)
	}{
		{"no token", goodForm, nil},
		{"stale token", withToken(goodForm, stale), nil},
		{"cross-site", withToken(goodForm, token(t, p)), func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "http://evil.example")
		}},
		{"other origin, old browser", withToken(goodForm, token(t, p)), func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "http://evil.example")
		}},
		{"by name (DNS rebinding)", withToken(goodForm, token(t, p)), func(r *http.Request) {
			r.Host = "evil.example"
			r.Header.Set("Origin", "http://evil.example")
		}},
	}
	for _, tc := range cases {
		if status, _ := post(t, p, tc.form, tc.mutate); status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, status)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, p.url, nil)
	req.Host = "evil.example:8080"
	if status, body := do(t, req); status != http.StatusForbidden || strings.Contains(body, "k7m2q9xw4hfp3ncr") {
		t.Errorf("GET by name: %d", status)
	}
	if _, err := os.Stat(p.srv.File()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
}

func TestPostLimits(t *testing.T) {
	p := serve(t, defaultOpts)
	form := withToken(goodForm, token(t, p))
	form.Set("site_name", strings.Repeat("x", MaxBodyBytes))
	if status, _ := post(t, p, form, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize: %d, want 413", status)
	}
	// Without a Content-Length the limit holds while reading.
	if status, _ := post(t, p, form, func(r *http.Request) {
		r.ContentLength = -1
		body := r.Body
		r.Body = io.NopCloser(io.MultiReader(body))
	}); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize, chunked: %d, want 413", status)
	}
	if status, _ := post(t, p, withToken(goodForm, token(t, p)), func(r *http.Request) {
		r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	}); status != http.StatusUnsupportedMediaType {
		t.Errorf("multipart: %d, want 415", status)
	}
	if _, err := os.Stat(p.srv.File()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
	for path, want := range map[string]int{"nope": http.StatusNotFound, "": http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, p.url+path, nil)
		if status, _ := do(t, req); status != want {
			t.Errorf("GET /%s: %d, want %d", path, status, want)
		}
	}
}

// A file the appliance could not apply is reported on the form.
func TestRejectedShown(t *testing.T) {
	p := serve(t, defaultOpts)
	if _, body := get(t, p); strings.Contains(body, "could not be applied") {
		t.Error("a refusal shown without one")
	}
	if err := firstboot.WriteFile(p.srv.File()+firstboot.RejectedSuffix, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, p); !strings.Contains(body, "could not be applied") || !strings.Contains(body, "<form") {
		t.Errorf("the refusal is not shown:\n%s", body)
	}
}

var textareaRE = regexp.MustCompile(`(?s)<textarea id="chargers"[^>]*>(.*?)</textarea>`)

// chargersShown is the chargers textarea's text on the page, as a
// browser would send it back.
func chargersShown(t *testing.T, body string) string {
	t.Helper()
	m := textareaRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no chargers field in the page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// The chargers' problems sit under their field, named by their line; the
// form comes back with the lines without a password, those with one left
// out and named (shown without it they would be sent back without it),
// and sent again completed, the chargers are saved.
func TestChargersRoundTrip(t *testing.T) {
	p := serve(t, defaultOpts)
	form := withToken(url.Values{
		"time_zone": {"Mars/Olympus"},
		"chargers":  {"CP-1 short-password\nCP-2\n\nCP-2\nCP-3 cp3-basic-auth-password\nCP-4 two words-password-here\n<i>x"},
	}, token(t, p))
	status, body := post(t, p, form, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("POST: %d, want 400\n%s", status, body)
	}
	field := body[strings.Index(body, `name="chargers"`):]
	for _, want := range []string{
		"charger 1&#39;s password: is 14 characters, want 16 to 40",
		"charger 3&#39;s id: &#34;CP-2&#34; is listed twice",
		"charger 5&#39;s password: must not contain spaces or control characters",
		"the lines with a password (&#34;CP-1&#34;, &#34;CP-3&#34;, &#34;CP-4&#34;) are not shown again: enter them again",
	} {
		if !strings.Contains(field, want) {
			t.Errorf("the chargers field lacks %q", want)
		}
	}
	if strings.Contains(body, "<i>x") {
		t.Error("a charger id is not escaped")
	}
	for _, secret := range []string{"short-password", "cp3-basic-auth-password", "words-password-here"} {
		if strings.Contains(body, secret) {
			t.Errorf("password %q written back into the page", secret)
		}
	}
	shown := chargersShown(t, body)
	if shown != "CP-2\nCP-2\n<i>x" {
		t.Errorf("chargers shown again = %q, want the lines without a password", shown)
	}

	form = withToken(url.Values{
		"chargers": {strings.Replace(shown, "CP-2\nCP-2", "CP-2", 1) + "\nCP-1 cp1-basic-auth-password\nCP-3 cp3-basic-auth-password"},
	}, token(t, p))
	if status, body := post(t, p, form, nil); status != http.StatusOK {
		t.Fatalf("POST again: %d\n%s", status, body)
	}
	data, err := os.ReadFile(p.srv.File())
	if err != nil {
		t.Fatal(err)
	}
	got, err := firstboot.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []firstboot.Charger{{ID: "CP-2"}, {ID: "<i>x"}, {ID: "CP-1", Password: "cp1-basic-auth-password"}, {ID: "CP-3", Password: "cp3-basic-auth-password"}}
	if !reflect.DeepEqual(got.Chargers, want) {
		t.Errorf("saved chargers = %+v, want %+v", got.Chargers, want)
	}
}

// Too many chargers are refused under the field.
func TestTooManyChargers(t *testing.T) {
	p := serve(t, defaultOpts)
	var lines []string
	for i := range firstboot.MaxChargers + 1 {
		lines = append(lines, "CP-"+strconv.Itoa(i))
	}
	form := withToken(url.Values{"chargers": {strings.Join(lines, "\n")}}, token(t, p))
	status, body := post(t, p, form, nil)
	if status != http.StatusBadRequest || !strings.Contains(body[strings.Index(body, `name="chargers"`):], "101 listed, want at most 100") {
		t.Errorf("POST: %d\n%s", status, body)
	}
}
