package main

import (
	"testing"

	"gonum.org/v1/plot"
)

func TestRoundsTextIsHonest(t *testing.T) {
	for rounds, want := range map[int]string{1: "1 round", 3: "median of 3 rounds"} {
		if got := roundsText(rounds); got != want {
			t.Errorf("roundsText(%d) = %q, want %q", rounds, got, want)
		}
	}
}

func labelled(ticks []plot.Tick) []string {
	var l []string
	for _, t := range ticks {
		if t.Label != "" {
			l = append(l, t.Label)
		}
	}
	return l
}

// The y axis carries several labelled ticks, in k or M, even when the data
// spans less than a decade (the old plot had a single tick).
func TestRateTicksLabelSeveralValues(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   []string
	}{
		{niceBelow(5700), niceAbove(243000), []string{"5k", "10k", "20k", "50k", "100k", "200k", "500k"}},
		{niceBelow(21000), niceAbove(39000), []string{"20k", "50k"}},
		{niceBelow(700), niceAbove(1.3e6), []string{"500", "1k", "2k", "5k", "10k", "20k", "50k", "100k", "200k", "500k", "1M", "2M"}},
	}
	for _, c := range cases {
		got := labelled(rateTicks(c.lo, c.hi))
		if len(got) != len(c.want) {
			t.Fatalf("rateTicks(%g, %g) labels %q, want %q", c.lo, c.hi, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("rateTicks(%g, %g) labels %q, want %q", c.lo, c.hi, got, c.want)
			}
		}
	}
}

func TestLevelTicksLabelEveryLevel(t *testing.T) {
	got := labelled(levelTicks([]int{1, 4, 16, 64, 256}).Ticks(1, 256))
	want := []string{"1", "4", "16", "64", "256"}
	if len(got) != len(want) {
		t.Fatalf("labels %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("labels %q, want %q", got, want)
		}
	}
	if n := len(levelTicks([]int{1, 4, 16}).Ticks(1, 16)); n != 5 { // 1, 4, 16 and minor 2, 8
		t.Errorf("%d ticks, want 5", n)
	}
}
