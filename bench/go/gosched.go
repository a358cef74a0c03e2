// gosched: ns per runtime.Gosched with 2 and with 100 goroutines yielding in a
// loop: total yields / elapsed time, from the first spawn to the join. Twin of
// ../gosched.c.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const total = 4000000 // yields per configuration

type yielder struct {
	todo, done int
}

func run(ngoroutines int) {
	var wg sync.WaitGroup
	ys := make([]yielder, ngoroutines)
	start := time.Now()
	wg.Add(ngoroutines)
	for i := range ys {
		ys[i].todo = total / ngoroutines
		go func(y *yielder) {
			i := 0
			for ; i < y.todo; i++ {
				runtime.Gosched()
			}
			y.done = i // once, at the end: no cache line shared while yielding
			wg.Done()
		}(&ys[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	yields := 0
	for _, y := range ys {
		yields += y.done
	}
	if yields != total {
		fmt.Fprintf(os.Stderr, "gosched_%d: joined after %d of %d yields\n", ngoroutines, yields, total)
		os.Exit(1)
	}
	fmt.Printf("RESULT gosched_%d %.1f ns/op\n", ngoroutines, float64(elapsed.Nanoseconds())/total)
}

func main() {
	run(2)
	run(100)
}
