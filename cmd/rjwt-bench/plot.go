package main

import (
	"fmt"
	"image/color"
	"log"
	"math"
	"os"
	"runtime"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plot draws throughput against calls in flight for cached and uncached
// Verify, a plain EXISTS and golang-jwt's parse: log scales on both axes,
// a tick at every measured level, 1-2-5 ticks in calls per second, and the
// legend in a column of its own to the right of the plotting area.
func (b *bench) plot(file string, levels []int, rounds int, d time.Duration) {
	series := []struct {
		name, op string
		c        color.RGBA
	}{
		{"rjwt Verify, cached", "verify-cached", color.RGBA{R: 200, A: 255}},
		{"golang-jwt ParseWithClaims", "parse", color.RGBA{G: 150, A: 255}},
		{"rjwt Verify, uncached", "verify", color.RGBA{B: 220, A: 255}},
		{"go-redis EXISTS", "exists", color.RGBA{R: 120, G: 120, B: 120, A: 255}},
	}
	res := make([][][]float64, len(series))
	for i := range res {
		res[i] = make([][]float64, len(levels))
	}
	for range rounds {
		for li, l := range levels {
			for si, s := range series {
				res[si][li] = append(res[si][li], b.rate(s.op, l, d))
			}
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("rjwt on %d CPUs, loopback redis-server: %s per point, %s",
		runtime.NumCPU(), d, roundsText(rounds))
	p.X.Label.Text = "calls in flight (log scale)"
	p.Y.Label.Text = "calls per second (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = levelTicks(levels)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(rateTicks)
	p.Add(plotter.NewGrid())
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	fmt.Printf("\nthroughput (ops/s, median) by calls in flight:\n  %-28s", "")
	for _, l := range levels {
		fmt.Printf(" %7d", l)
	}
	fmt.Println()
	lo, hi := math.Inf(1), math.Inf(-1)
	for si, s := range series {
		pts := make(plotter.XYs, len(levels))
		fmt.Printf("  %-28s", s.name)
		for li, l := range levels {
			pts[li].X, pts[li].Y = float64(l), median(res[si][li])
			lo, hi = math.Min(lo, pts[li].Y), math.Max(hi, pts[li].Y)
			fmt.Printf(" %7s", kops(pts[li].Y))
		}
		fmt.Println()
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			log.Fatal(err)
		}
		line.Color, points.Color = s.c, s.c
		p.Add(line, points)
		legend.Add(s.name, line, points)
	}
	// Round the y range out to 1-2-5 values, so both ends carry a tick.
	p.Y.Min, p.Y.Max = niceBelow(lo), niceAbove(hi)
	if err := save(p, &legend, file); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("plot: %s\n", file)
}

// roundsText says honestly what each point is: one measurement, or the
// median of several.
func roundsText(rounds int) string {
	if rounds == 1 {
		return "1 round"
	}
	return fmt.Sprintf("median of %d rounds", rounds)
}

// save draws the plot in the left part of a PNG and the legend in a column
// to its right, outside the plotting area.
func save(p *plot.Plot, legend *plot.Legend, file string) error {
	const w, h, legendW = 10 * vg.Inch, 5 * vg.Inch, 2.6 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	margin := vg.Points(8)
	p.Title.Padding = margin
	p.Draw(draw.Crop(dc, margin, -legendW, margin, -margin))
	// The legend's column starts level with the plotting area's top.
	top := margin + p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	legend.Padding = vg.Points(4)
	legend.Draw(draw.Crop(dc, w-legendW+margin, 0, 0, -top))
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// levelTicks puts a labelled tick at every measured level and a minor tick
// at each power of two between them.
func levelTicks(levels []int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ticks []plot.Tick
		labelled := map[int]bool{}
		for _, l := range levels {
			labelled[l] = true
			ticks = append(ticks, plot.Tick{Value: float64(l), Label: strconv.Itoa(l)})
		}
		for v := 1; float64(v) <= hi; v *= 2 {
			if float64(v) >= lo && !labelled[v] {
				ticks = append(ticks, plot.Tick{Value: float64(v)})
			}
		}
		return ticks
	})
}

// rateTicks labels 1, 2 and 5 times each power of ten in the range (in k
// or M), with minor ticks at the other whole multiples.
func rateTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = units(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// units writes a rate as 500, 20k or 1.5M.
func units(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// niceBelow and niceAbove round a positive value out to 1, 2 or 5 times a
// power of ten.
func niceBelow(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*e <= v {
			return m * e
		}
	}
	return e
}

func niceAbove(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}
