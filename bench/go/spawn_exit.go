// spawn_exit: ns per goroutine for 10^6 goroutines started by the main
// goroutine, each calling Done on one WaitGroup, joined by one Wait, after an
// untimed warm-up round of the same size. Twin of ../spawn_exit.c.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const n = 1000000

var wg sync.WaitGroup

// Each goroutine bumps its own slot: after round r every slot must read r.
var stamp [n]uint8

func worker(slot *uint8) {
	*slot++
	wg.Done()
}

func round(r uint8) time.Duration {
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go worker(&stamp[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, s := range stamp {
		if s != r {
			fmt.Fprintf(os.Stderr, "spawn_exit: round %d: goroutine %d ran %d times in all\n", r, i, s)
			os.Exit(1)
		}
	}
	return elapsed
}

func main() {
	round(1)
	fmt.Printf("RESULT spawn_exit %.1f ns/op\n", float64(round(2).Nanoseconds())/n)
}
