package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rssKiB reads a process's resident set from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuSeconds is a process's user + system CPU time so far, from /proc.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command (which may hold spaces) start after ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // clock ticks (USER_HZ 100 on Linux)
}

func runFanout(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ExitOnError)
	url := fs.String("url", "", "server URL")
	key := fs.String("key", "", "API key with live.write")
	n := fs.Int("viewers", 10000, "viewer WebSockets")
	pid := fs.Int("pid", 0, "server process id (for RSS per viewer)")
	_ = fs.Parse(args)
	if *url == "" || *key == "" || fs.NArg() != 1 {
		return errors.New("fanout: -url, -key and one WAV are required")
	}
	samples, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	c := newClient(*url, *key)
	id, err := c.createSession(ctx, "bench-fanout")
	if err != nil {
		return err
	}
	var before int64
	if *pid > 0 {
		if before, err = rssKiB(*pid); err != nil {
			return err
		}
	}
	viewers := newViewerDialer(*url, (*n+24999)/25000)
	conns := make([]*viewer, *n)
	sem := make(chan struct{}, 100)
	var dialErr error
	var emu sync.Mutex
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			v, err := viewers.dial(dctx, "/v1/sessions/"+id+"/captions")
			if err != nil {
				emu.Lock()
				dialErr = err
				emu.Unlock()
				return
			}
			conns[i] = v
		}()
	}
	wg.Wait()
	open := 0
	for _, cn := range conns {
		if cn != nil {
			open++
		}
	}
	if open < *n {
		fmt.Fprintf(os.Stderr, "fanout: %d of %d viewers connected (last error: %v)\n", open, *n, dialErr)
	}
	time.Sleep(2 * time.Second) // let the server settle before measuring
	var after int64
	if *pid > 0 {
		if after, err = rssKiB(*pid); err != nil {
			return err
		}
	}
	// Every viewer records publish → arrival for each event published
	// from now on (catch-up of older events is not a delivery time).
	delays := make([][]float64, len(conns))
	ends := make([]int, len(conns)) // close code of each feed that ended before we closed it
	var closing atomic.Bool
	cut := make([]bool, len(conns)) // ended before we closed it, without a close frame
	from := time.Now()
	var rd sync.WaitGroup
	for i, cn := range conns {
		if cn == nil {
			continue
		}
		rd.Add(1)
		go func() {
			defer rd.Done()
			ends[i] = cn.readAll(func(published time.Time) {
				if published.After(from) {
					delays[i] = append(delays[i], time.Since(published).Seconds()*1000)
				}
			})
			cut[i] = ends[i] == 0 && !closing.Load()
		}()
	}
	cpu0, _ := cpuSeconds(*pid)
	if _, err := c.streamRealTime(ctx, id, samples, 3*time.Second); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	cpu1, _ := cpuSeconds(*pid)
	var steady int64 // after the run, every viewer still open
	if *pid > 0 {
		steady, _ = rssKiB(*pid)
	}
	c.stopSession(ctx, id)
	time.Sleep(2 * time.Second) // the "stopped" state event reaches everyone
	closing.Store(true)
	for _, cn := range conns {
		if cn != nil {
			cn.conn.Close()
		}
	}
	rd.Wait()
	var all []float64
	perViewer := map[int]int{}
	for _, d := range delays {
		all = append(all, d...)
		perViewer[len(d)]++
	}
	if len(all) == 0 {
		return errors.New("fanout: no events delivered")
	}
	dropped := 0
	for _, code := range ends {
		if code == 4008 { // fell behind
			dropped++
		}
	}
	lost := 0
	for _, c := range cut {
		if c {
			lost++
		}
	}
	fmt.Printf("live_fanout_viewers_dropped_slow %d count\nlive_fanout_viewers_cut %d count\n", dropped, lost)
	fmt.Printf("live_fanout_viewers %d count\nlive_fanout_deliveries %d count\n", open, len(all))
	fmt.Printf("live_fanout_delivery_p50 %.1f ms\nlive_fanout_delivery_p99 %.1f ms\nlive_fanout_delivery_max %.1f ms\n",
		pct(all, 50), pct(all, 99), pct(all, 100))
	if *pid > 0 && open > 0 {
		fmt.Printf("live_fanout_server_cpu_per_delivery %.2f µs\n", (cpu1-cpu0)*1e6/float64(len(all)))
		fmt.Printf("live_fanout_server_rss_before %d KiB\nlive_fanout_server_rss_after %d KiB\nlive_fanout_rss_per_viewer %.1f KiB\n",
			before, after, float64(after-before)/float64(open))
		fmt.Printf("live_fanout_server_rss_end %d KiB\nlive_fanout_rss_per_viewer_end %.1f KiB\n", steady, float64(steady-before)/float64(open))
	}
	// Viewers that missed events would show as a spread here.
	counts := make([]int, 0, len(perViewer))
	for k := range perViewer {
		counts = append(counts, k)
	}
	sort.Ints(counts)
	fmt.Fprintf(os.Stderr, "events per viewer (count: viewers): ")
	for _, k := range counts {
		fmt.Fprintf(os.Stderr, "%d:%d ", k, perViewer[k])
	}
	fmt.Fprintln(os.Stderr)
	return nil
}
