// chan_pingpong: round-trip ns of two goroutines passing a ball over two
// unbuffered channels. Twin of ../chan_pingpong.c.
package main

import (
	"fmt"
	"os"
	"time"
)

const n = 1000000 // round trips

func main() {
	ping, pong := make(chan int64), make(chan int64)
	done := make(chan struct{})
	go func() {
		for ball := range ping {
			pong <- ball + 1
		}
		close(done)
	}()
	var ball int64
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- ball + 1
		ball = <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	<-done
	if ball != 2*n {
		fmt.Fprintf(os.Stderr, "chan_pingpong: ball %d (want %d)\n", ball, 2*n)
		os.Exit(1)
	}
	fmt.Printf("RESULT chan_pingpong %.1f ns/op\n", float64(elapsed.Nanoseconds())/n)
}
