package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webrouter/webrouter/internal/loadgen"
)

func outcome(id int, proxy string, total, failed int64, inFlight int, err error) Outcome {
	o := Outcome{Scenario: All()[id-1], Proxy: proxy, Err: err}
	o.Load.KeepAlive = loadgen.Result{Total: total, Failed: failed}
	kill := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(0); i < failed; i++ {
		f := loadgen.Failure{Kind: loadgen.KindKeepAlive, Start: kill.Add(-time.Millisecond), At: kill.Add(time.Millisecond), Reason: "status 502"}
		if int(i) < inFlight {
			o.InFlight = append(o.InFlight, f)
		} else {
			o.Other = append(o.Other, f)
		}
	}
	return o
}

func TestMeetsGoal(t *testing.T) {
	tests := []struct {
		o    Outcome
		want bool
	}{
		{outcome(1, "webrouter", 100, 0, 0, nil), true},
		{outcome(1, "webrouter", 100, 1, 0, nil), false},
		{outcome(2, "webrouter", 0, 0, 0, nil), false}, // no load ran
		{outcome(4, "webrouter", 100, 0, 0, errors.New("upgrade refused")), false},
		{outcome(3, "webrouter", 100, 3, 3, nil), true},
		{outcome(3, "webrouter", 100, 3, 2, nil), false},
	}
	for i, tt := range tests {
		if got := tt.o.MeetsGoal(); got != tt.want {
			t.Errorf("%d: scenario %d, %d/%d failed, err %v: MeetsGoal = %v, want %v", i, tt.o.Scenario.ID,
				tt.o.Load.Failed(), tt.o.Load.Total(), tt.o.Err, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	got := Table([]Outcome{
		outcome(1, "webrouter", 1000, 0, 0, nil),
		outcome(1, "nginx", 900, 12, 0, nil),
		outcome(3, "webrouter", 1000, 3, 2, nil),
		outcome(4, "nginx", 0, 0, 0, errors.New("USR2 to nginx 12:\nno such process")),
	}, []string{"webrouter", "nginx"})
	want := `| scenario | webrouter failed / total | nginx failed / total |
|---|---|---|
| 1. registry changes | 0 / 1000 | 12 / 900 |
| 3. backend SIGKILL | 3 / 1000 (2 in flight at the kill, 1 other) |  |
| 4. binary upgrade |  | not run: USR2 to nginx 12: no such process |
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDetailsListsFailuresAtTheKill(t *testing.T) {
	o := outcome(3, "nginx", 1000, 3, 2, nil)
	o.KilledAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := Details([]Outcome{o})
	for _, want := range []string{"in flight at the kill (2):", "keep-alive sent at -1ms, failed at +1ms: status 502",
		"other failures by reason: 1× keep-alive status 502"} {
		if !strings.Contains(got, want) {
			t.Errorf("details lack %q:\n%s", want, got)
		}
	}
}
