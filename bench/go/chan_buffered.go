// chan_buffered: ns per item through a buffered channel (cap 128), with 1
// producer and 1 consumer, then 4 and 4; 4e6 items each. Consumers sum what
// they receive and the total is checked. Twin of ../chan_buffered.c.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const items = 4000000

func run(name string, np, nc int) {
	c := make(chan int64, 128)
	var pwg, cwg sync.WaitGroup
	sums := make([]int64, nc)
	counts := make([]int64, nc)
	start := time.Now()
	cwg.Add(nc)
	for i := 0; i < nc; i++ {
		go func(i int) {
			var sum, count int64
			for v := range c {
				sum += v
				count++
			}
			sums[i], counts[i] = sum, count
			cwg.Done()
		}(i)
	}
	pwg.Add(np)
	for i := 0; i < np; i++ {
		go func(from, to int64) {
			for v := from; v < to; v++ {
				c <- v
			}
			pwg.Done()
		}(int64(items/np*i), int64(items/np*(i+1)))
	}
	pwg.Wait()
	close(c)
	cwg.Wait()
	elapsed := time.Since(start)
	var sum, count int64
	for i := 0; i < nc; i++ {
		sum += sums[i]
		count += counts[i]
	}
	want := int64(items) * (items - 1) / 2
	if count != items || sum != want {
		fmt.Fprintf(os.Stderr, "%s: received %d items summing %d (want %d, %d)\n", name, count, sum, items, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT %s %.1f ns/op\n", name, float64(elapsed.Nanoseconds())/items)
}

func main() {
	run("chan_buffered_1x1", 1, 1)
	run("chan_buffered_4x4", 4, 4)
}
