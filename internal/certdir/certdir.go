// Package certdir loads TLS certificates from a directory: each
// <name>.crt (PEM chain, leaf first) with its <name>.key (PEM private key)
// is one certificate called <name>. The directory is polled: when a file's
// modification time or size changes, or a file comes or goes, the whole
// set is read again and handed on. These certificates belong to the router
// that reads them; they are not written to the registry.
package certdir

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/webrouter/webrouter/internal/catalog"
)

// DefaultInterval is how often the directory is polled.
const DefaultInterval = 2 * time.Second

// stamp is what a poll compares: a file's modification time and size.
type stamp struct {
	mod  time.Time
	size int64
}

// Watcher polls one directory.
type Watcher struct {
	dir      string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	seen   map[string]stamp
	loaded map[string]*catalog.Certificate
	bad    map[string]string // name → last problem logged
}

// New returns a watcher of dir; interval 0 means DefaultInterval, a nil
// log discards.
func New(dir string, interval time.Duration, log *slog.Logger) *Watcher {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{dir: dir, interval: interval, log: log, now: time.Now, bad: map[string]string{}}
}

// Load reads the directory once and returns its certificates. A pair that
// does not load (no key, a key that does not fit, an expired or unparsable
// certificate, a bad name) is logged, once per problem, and left out;
// the error is only for a directory that cannot be read.
func (w *Watcher) Load() (map[string]*catalog.Certificate, error) {
	stamps, err := w.scan()
	if err != nil {
		return nil, err
	}
	w.seen = stamps
	w.loaded = w.read(stamps)
	return w.loaded, nil
}

// Run polls until ctx ends and sends the whole set on out each time it
// changes. Call Load first.
func (w *Watcher) Run(ctx context.Context, out chan<- map[string]*catalog.Certificate) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamps, err := w.scan()
		if err != nil {
			if w.bad[""] != err.Error() {
				w.log.Warn("cert dir: cannot read; keeping the certificates loaded before", "dir", w.dir, "error", err.Error())
				w.bad[""] = err.Error()
			}
			continue
		}
		delete(w.bad, "")
		if maps.Equal(stamps, w.seen) {
			continue
		}
		w.seen = stamps
		next := w.read(stamps)
		if maps.EqualFunc(next, w.loaded, func(a, b *catalog.Certificate) bool { return a.Equal(b) }) {
			continue
		}
		w.loaded = next
		w.log.Info("cert dir: certificates reloaded", "dir", w.dir, "certificates", len(next))
		select {
		case out <- next:
		case <-ctx.Done():
			return
		}
	}
}

// scan stats the .crt and .key files.
func (w *Watcher) scan() (map[string]stamp, error) {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, err
	}
	out := map[string]stamp{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".crt") && !strings.HasSuffix(n, ".key") {
			continue
		}
		fi, err := os.Stat(filepath.Join(w.dir, n)) // follows symlinks, as mounted secrets use
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out[n] = stamp{fi.ModTime(), fi.Size()}
	}
	return out, nil
}

// read loads every .crt that has a .key.
func (w *Watcher) read(stamps map[string]stamp) map[string]*catalog.Certificate {
	out := map[string]*catalog.Certificate{}
	problems := map[string]string{}
	for file := range stamps {
		name, ok := strings.CutSuffix(file, ".crt")
		if !ok {
			if base := strings.TrimSuffix(file, ".key"); !hasKey(stamps, base+".crt") {
				problems[base] = "has a .key but no .crt"
			}
			continue
		}
		if !hasKey(stamps, name+".key") {
			problems[name] = "has a .crt but no .key"
			continue
		}
		c, err := w.load(name)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		out[name] = c
	}
	for name, p := range problems {
		if w.bad[name] != p {
			w.log.Warn("cert dir: certificate not loaded", "dir", w.dir, "name", name, "error", p)
		}
	}
	for name := range w.bad {
		if name != "" {
			delete(w.bad, name)
		}
	}
	maps.Copy(w.bad, problems)
	return out
}

func hasKey(m map[string]stamp, k string) bool { _, ok := m[k]; return ok }

// load reads and validates one pair. Errors never hold key material.
func (w *Watcher) load(name string) (*catalog.Certificate, error) {
	crt, err := os.ReadFile(filepath.Join(w.dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(w.dir, name+".key"))
	if err != nil {
		return nil, errors.New("read the key: " + err.Error())
	}
	return catalog.NewCertificate(name, catalog.CertificateSpec{Cert: string(crt), Key: string(key)}, w.now())
}
