package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/webrouter/webrouter/internal/catalog"
)

// rawWrite edits the closed database in dir directly.
func rawWrite(t *testing.T, dir string, edit func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openCounting opens dir and returns how often each key was reported bad
// and the log output.
func openCounting(t *testing.T, dir string) (*Store, map[string]int, string) {
	t.Helper()
	var log bytes.Buffer
	bad := map[string]int{}
	st := open(t, dir, Options{
		Logger:     slog.New(slog.NewTextHandler(&log, nil)),
		OnBadEntry: func(key string, err error) { bad[key]++ },
	})
	return st, bad, log.String()
}

func TestOpenSkipsBadEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir, Options{})
	if _, _, err := st.PutService(ctx, svc(t, "good", "good.lain.local")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"i1", "i2"} {
		if _, _, err := st.PutInstance(ctx, "good", inst(t, id, "10.0.0.1", 80)); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(st.State())
	st.Close()

	badMount := mustJSON(t, map[string]any{"name": "badmount", "mountpoints": []string{"http://x.com"},
		"balance": "round_robin", "max_fails": 3, "fail_timeout": "10s"})
	rawWrite(t, dir, func(tx *bolt.Tx) error {
		s, i := tx.Bucket(servicesBucket), tx.Bucket(instancesBucket)
		for k, v := range map[string][]byte{
			"badjson":  []byte(`{"name":`),
			"mismatch": mustJSON(t, svc(t, "someone-else", "else.lain.local")),
			"badmount": badMount,
		} {
			if err := s.Put([]byte(k), v); err != nil {
				return err
			}
		}
		good := i.Bucket([]byte("good"))
		errs := []error{
			good.Put([]byte("bad-inst"), []byte("nope")),
			good.Put([]byte("wrong-id"), mustJSON(t, inst(t, "other", "10.0.0.3", 80))),
			i.Put([]byte("flat"), []byte("not a bucket")),
		}
		for _, nested := range []struct {
			b   *bolt.Bucket
			key string
		}{{s, "nested"}, {good, "sub"}, {i, "ghost"}, {i, "badjson"}} {
			nb, err := nested.b.CreateBucket([]byte(nested.key))
			errs = append(errs, err)
			if err == nil {
				errs = append(errs, nb.Put([]byte("x1"), mustJSON(t, inst(t, "x1", "10.0.0.4", 80))))
			}
		}
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})

	st, bad, log := openCounting(t, dir)
	wantBad := map[string]int{
		"services/badjson":        1,
		"services/mismatch":       1,
		"services/badmount":       1,
		"services/nested":         1,
		"instances/good/bad-inst": 1,
		"instances/good/wrong-id": 1,
		"instances/good/sub":      1,
		"instances/ghost":         1,
		"instances/badjson":       1,
		"instances/flat":          1,
	}
	if !maps.Equal(bad, wantBad) {
		t.Errorf("OnBadEntry calls = %v\nwant %v", bad, wantBad)
	}
	if n := strings.Count(log, "level=WARN"); n != len(wantBad) {
		t.Errorf("%d Warn lines; want %d:\n%s", n, len(wantBad), log)
	}
	for key := range wantBad {
		if !strings.Contains(log, "key="+key+" ") {
			t.Errorf("no Warn line names %s", key)
		}
	}
	if got := dump(st.State()); got != want {
		t.Errorf("loaded:\n%s\nwant the good entries:\n%s", got, want)
	}

	// Writes to the same keys replace the bad entries; creating a service
	// clears instances left under its name.
	writes := []error{
		put(st, svc(t, "badjson", "badjson.lain.local")),
		put(st, svc(t, "nested", "nested.lain.local")),
		put(st, svc(t, "flat", "flat.lain.local")),
		putInst(st, "flat", inst(t, "f1", "10.0.0.5", 80)),
		putInst(st, "good", inst(t, "sub", "10.0.0.6", 80)),
	}
	for _, err := range writes {
		if err != nil {
			t.Fatal(err)
		}
	}
	want = dump(st.State())
	st.Close()
	st, bad, _ = openCounting(t, dir)
	for _, fixed := range []string{"services/badjson", "services/nested", "instances/badjson", "instances/flat", "instances/good/sub"} {
		delete(wantBad, fixed)
	}
	if !maps.Equal(bad, wantBad) {
		t.Errorf("after repairs, OnBadEntry keys = %v\nwant %v", slices.Sorted(maps.Keys(bad)), slices.Sorted(maps.Keys(wantBad)))
	}
	if got := dump(st.State()); got != want {
		t.Errorf("after repairs and reopen:\n%s\nwant:\n%s", got, want)
	}
	if e, _ := st.State().Get("badjson"); e == nil || len(e.Instances) != 0 {
		t.Errorf("badjson = %+v; want it without the instance left from before", e)
	}
}

func put(st *Store, s catalog.Service) error {
	_, _, err := st.PutService(context.Background(), s)
	return err
}

func putInst(st *Store, service string, in catalog.Instance) error {
	_, _, err := st.PutInstance(context.Background(), service, in)
	return err
}

func TestOpenDamagedRevFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{}).Close()
	rawWrite(t, dir, func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(revKey, []byte{1, 2, 3})
	})
	st, err := Open(dir, Options{})
	if err == nil {
		st.Close()
		t.Fatal("Open succeeded with a 3-byte meta/rev")
	}
	if !strings.Contains(err.Error(), "meta/rev") || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v; want it to name meta/rev and the directory", err)
	}
}

func BenchmarkPutInstance(b *testing.B) {
	for _, noSync := range []bool{true, false} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			st := open(b, b.TempDir(), Options{NoSync: noSync})
			ctx := context.Background()
			if _, _, err := st.PutService(ctx, svc(b, "demo", "demo.lain.local")); err != nil {
				b.Fatal(err)
			}
			ins := make([]catalog.Instance, 1000)
			for i := range ins {
				ins[i] = inst(b, fmt.Sprintf("i%d", i), "10.0.0.1", 1000+i)
			}
			n := 0
			for b.Loop() {
				if _, _, err := st.PutInstance(ctx, "demo", ins[n%len(ins)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
