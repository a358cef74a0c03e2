// pingpong: round-trip ns of two goroutines waking each other over two
// unbuffered channels. The main goroutine serves, a partner returns the ball.
// Twin of ../pingpong.c, which uses the runtime's semaphores.
package main

import (
	"fmt"
	"os"
	"time"
)

const n = 1000000 // round trips

func main() {
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
		for ball := range ping {
			pong <- ball + 1
		}
		close(done)
	}()
	ball := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- ball + 1
		ball = <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	<-done
	if ball != 2*n {
		fmt.Fprintf(os.Stderr, "pingpong: ball %d (want %d)\n", ball, 2*n)
		os.Exit(1)
	}
	fmt.Printf("RESULT pingpong %.1f ns/op\n", float64(elapsed.Nanoseconds())/n)
}
