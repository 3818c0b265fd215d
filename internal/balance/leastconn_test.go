package balance

import (
	"testing"

	"github.com/webrouter/webrouter/internal/upstream"
)

// busy starts n requests on t.
func busy(t *upstream.Target, n int) {
	for range n {
		t.Host.Begin()
	}
}

func TestLeastConnPick(t *testing.T) {
	cases := []struct {
		name     string
		weights  []int
		inflight []int
		down     []int
		tried    []int
		want     string // the only acceptable pick, "-" for nil
	}{
		{"fewest", []int{1, 1, 1}, []int{3, 1, 2}, nil, nil, "b"},
		{"idle wins", []int{1, 1, 1}, []int{3, 0, 2}, nil, nil, "b"},
		{"per weight", []int{1, 2}, []int{1, 1}, nil, nil, "b"},
		{"per weight 2", []int{1, 3}, []int{1, 2}, nil, nil, "b"}, // 1/1 > 2/3
		{"per weight 3", []int{1, 3}, []int{1, 4}, nil, nil, "a"}, // 1/1 < 4/3
		{"heavy but busier", []int{10, 1}, []int{21, 2}, nil, nil, "b"},
		{"zero weight", []int{0, 1}, []int{0, 5}, nil, nil, "b"},
		{"down skipped", []int{1, 1, 1}, []int{0, 5, 7}, []int{0}, nil, "b"},
		{"tried skipped", []int{1, 1, 1}, []int{0, 5, 7}, nil, []int{0, 1}, "c"},
		{"all down", []int{1, 1}, []int{0, 0}, []int{0, 1}, nil, "-"},
		{"all tried", []int{1, 1}, []int{0, 0}, nil, []int{0, 1}, "-"},
	}
	for _, c := range cases {
		ts := mkTargets(c.weights...)
		for i, n := range c.inflight {
			busy(ts[i], n)
		}
		for _, i := range c.down {
			down(ts[i])
		}
		var tried Tried
		for _, i := range c.tried {
			tried.Add(ts[i])
		}
		p := newLeastConn(ts)
		for range 10 { // from every rotation start
			if got := ids(p.Pick(now, "", &tried)); got != c.want {
				t.Errorf("%s: got %s, want %s", c.name, got, c.want)
			}
		}
	}
}

func TestLeastConnTiesRotate(t *testing.T) {
	cases := []struct {
		weights  []int
		inflight []int
		picks    int
		want     map[string]int
	}{
		{[]int{1, 1, 1, 1}, []int{0, 0, 0, 0}, 400, map[string]int{"a": 100, "b": 100, "c": 100, "d": 100}},
		{[]int{1, 1, 1, 1}, []int{2, 2, 2, 2}, 400, map[string]int{"a": 100, "b": 100, "c": 100, "d": 100}},
		{[]int{1, 2}, []int{1, 2}, 300, map[string]int{"a": 150, "b": 150}},
		{[]int{5, 10, 5}, []int{1, 2, 1}, 300, map[string]int{"a": 100, "b": 100, "c": 100}},
	}
	for _, c := range cases {
		ts := mkTargets(c.weights...)
		for i, n := range c.inflight {
			busy(ts[i], n)
		}
		got := count(newLeastConn(ts), c.picks, nil)
		if len(got) != len(c.want) {
			t.Errorf("%v: got %v, want %v", c.weights, got, c.want)
		}
		for id, n := range c.want {
			if got[id] != n {
				t.Errorf("%v: got %v, want %v", c.weights, got, c.want)
				break
			}
		}
	}
}

// TestLeastConnWeights holds every picked request open: the in-flight
// counts then follow the weights.
func TestLeastConnWeights(t *testing.T) {
	cases := [][]int{{1, 2, 3}, {10, 10, 0, 30}, {1, 1000}, {7, 3, 5, 5}}
	for _, weights := range cases {
		ts := mkTargets(weights...)
		out := ts[len(ts)-1]
		out.Host.SetActiveDown(true)
		p := newLeastConn(ts)
		total := 0
		for _, tg := range ts[:len(ts)-1] {
			total += tg.Weight
		}
		picks := 100 * total
		for range picks {
			p.Pick(now, "", nil).Host.Begin()
		}
		for _, tg := range ts {
			want := 0
			if tg != out {
				want = picks * tg.Weight / total
			}
			if got := int(tg.Host.InFlight()); got < want-1 || got > want+1 {
				t.Errorf("%v: %s has %d in flight, want %d±1", weights, tg.ID, got, want)
			}
		}
	}
}
