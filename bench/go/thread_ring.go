// thread_ring: 503 goroutines in a ring, each receiving a token on its
// unbuffered channel and passing it, decremented, to the next; 1e7 hops.
// The goroutine that receives 0 must be number 1e7 % 503 and the hop counts
// must add up to 1e7. Reports ns per hop. Twin of ../thread_ring.c.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const ring, hops = 503, 10000000

func main() {
	var chans [ring]chan int64
	for i := range chans {
		chans[i] = make(chan int64)
	}
	done := make(chan int)
	var counts [ring]int64
	var wg sync.WaitGroup
	wg.Add(ring)
	for i := 0; i < ring; i++ {
		go func(id int) {
			in, out := chans[id], chans[(id+1)%ring]
			var n int64
			for token := range in {
				if token == 0 {
					done <- id
					continue
				}
				n++
				out <- token - 1
			}
			counts[id] = n
			wg.Done()
		}(i)
	}
	start := time.Now()
	chans[0] <- hops
	who := <-done
	elapsed := time.Since(start)
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	var total int64
	for _, n := range counts {
		total += n
	}
	if total != hops || who != hops%ring {
		fmt.Fprintf(os.Stderr, "thread_ring: %d hops ending at %d (want %d, %d)\n", total, who, hops, hops%ring)
		os.Exit(1)
	}
	fmt.Printf("RESULT thread_ring %.1f ns/op\n", float64(elapsed.Nanoseconds())/hops)
}
