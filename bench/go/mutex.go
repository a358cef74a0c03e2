// mutex: 4 goroutines each locking and unlocking one sync.Mutex 1e6 times
// around a shared counter, which must end at 4e6. Reports ns per lock+unlock
// pair (wall time over all 4e6). Twin of ../mutex.c.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const workers, per = 4, 1000000

func main() {
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(workers)
	for i := 0; i < workers; i++ {
		go func() {
			for j := 0; j < per; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counter != workers*per {
		fmt.Fprintf(os.Stderr, "mutex: counter %d (want %d)\n", counter, workers*per)
		os.Exit(1)
	}
	fmt.Printf("RESULT mutex %.1f ns/op\n", float64(elapsed.Nanoseconds())/(workers*per))
}
