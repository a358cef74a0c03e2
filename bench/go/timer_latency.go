// timer_latency: 10,000 goroutines each sleeping 1 ms ten times; every sleep's
// oversleep (measured duration minus 1 ms) is recorded. Reports the mean and
// the 99th percentile in microseconds; no sleep may be short.
// Twin of ../timer_latency.c.
package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

const goroutines, sleeps = 10000, 10
const samplesN = goroutines * sleeps

func main() {
	samples := make([]int64, samplesN)
	for i := range samples {
		samples[i] = -1 - int64(time.Millisecond) // marks a sample never taken
	}
	var wg sync.WaitGroup
	wg.Add(goroutines)
	for i := 0; i < goroutines; i++ {
		go func(out []int64) {
			for j := range out {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				out[j] = int64(time.Since(t0) - time.Millisecond)
			}
			wg.Done()
		}(samples[i*sleeps : (i+1)*sleeps])
	}
	wg.Wait()
	sort.Slice(samples, func(a, b int) bool { return samples[a] < samples[b] })
	if samples[0] < 0 {
		fmt.Fprintf(os.Stderr, "timer_latency: a sleep was %d ns short (or never taken)\n", -samples[0])
		os.Exit(1)
	}
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	fmt.Printf("RESULT timer_mean_oversleep %.1f us\n", sum/samplesN/1e3)
	fmt.Printf("RESULT timer_p99_oversleep %.1f us\n", float64(samples[samplesN*99/100])/1e3)
}
