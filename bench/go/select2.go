// select2: one goroutine selecting over two unbuffered channels, each fed
// 1e6 values by its own sender; 2e6 selects. The per-channel counts and sums
// are checked. Reports ns per select. Twin of ../select2.c.
package main

import (
	"fmt"
	"os"
	"time"
)

const per = 1000000

func main() {
	c0, c1 := make(chan int64), make(chan int64)
	send := func(c chan<- int64) {
		for v := int64(1); v <= per; v++ {
			c <- v
		}
	}
	start := time.Now()
	go send(c0)
	go send(c1)
	var count, sum [2]int64
	for i := 0; i < 2*per; i++ {
		select {
		case v := <-c0:
			count[0]++
			sum[0] += v
		case v := <-c1:
			count[1]++
			sum[1] += v
		}
	}
	elapsed := time.Since(start)
	want := int64(per) * (per + 1) / 2
	if count[0] != per || count[1] != per || sum[0] != want || sum[1] != want {
		fmt.Fprintf(os.Stderr, "select2: counts %d %d sums %d %d (want %d, %d)\n",
			count[0], count[1], sum[0], sum[1], per, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT select2 %.1f ns/op\n", float64(elapsed.Nanoseconds())/(2*per))
}
