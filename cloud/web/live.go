package web

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// loader reads a page's data through the API.
type loader func(r *http.Request, v *visitor) (any, error)

// view serves a page: the whole page, or, to a live stream (an
// EventSource asking the same address), its "live" part whenever it
// changes.
func (d *Dashboard) view(name string, load loader) http.Handler {
	return d.signedIn(func(w http.ResponseWriter, r *http.Request, v *visitor) {
		if wantsStream(r) {
			d.stream(w, r, v, name, load)
			return
		}
		data, err := load(r, v)
		if err != nil {
			d.failAPI(w, r, v, err)
			return
		}
		d.render(w, r, v, name, http.StatusOK, data)
	})
}

// wantsStream reports whether r is an EventSource's.
func wantsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// keepAliveEvery is how many quiet checks pass between comments that
// keep proxies from closing an idle stream.
const keepAliveEvery = 15

// stream sends the page's live part as a "live" event each time it
// renders differently, checking every LiveEvery, until the client
// leaves, the server shuts down or the session ends (a "signedout"
// event, so the page goes to the login).
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request, v *visitor, name string, load loader) {
	p := d.pages[name]
	if !p.live {
		http.Error(w, "this page has no live part", http.StatusNotAcceptable)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(d.LiveEvery)
	defer tick.Stop()
	var last []byte
	var lastErr string // logged once, not every check
	quiet := 0
	for {
		var event bytes.Buffer
		if _, err := d.visitor(r); err != nil {
			event.WriteString("event: signedout\ndata: \n\n")
		} else if part, err := d.renderLive(r, v, name, load); err != nil {
			if err.Error() != lastErr {
				lastErr = err.Error()
				d.Logger.Warn("live update", "page", name, "path", r.URL.Path, "err", err)
			}
		} else if !bytes.Equal(part, last) {
			last = part
			event.WriteString("event: live\n")
			for line := range strings.SplitSeq(string(part), "\n") {
				event.WriteString("data: " + line + "\n")
			}
			event.WriteString("\n")
		} else if quiet++; quiet >= keepAliveEvery {
			event.WriteString(": still here\n\n")
		}
		if event.Len() > 0 {
			quiet = 0
			if _, err := w.Write(event.Bytes()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			if strings.HasPrefix(event.String(), "event: signedout") {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case <-tick.C:
		}
	}
}

// renderLive renders the page's live part with fresh data.
func (d *Dashboard) renderLive(r *http.Request, v *visitor, name string, load loader) ([]byte, error) {
	data, err := load(r, v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	pd := pageData{UserName: v.principal.UserName, Role: v.principal.Role, CSRF: v.session.CSRF, Data: data}
	if err := d.pages[name].tmpl.ExecuteTemplate(&buf, "live", pd); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
