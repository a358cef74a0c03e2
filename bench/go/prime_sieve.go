// prime_sieve: the classic concurrent prime sieve, a generator goroutine and
// one filter goroutine per prime found, chained by unbuffered channels; takes
// the first 5000 primes, the last of which must be 48611. Reports ms.
// Twin of ../prime_sieve.c.
package main

import (
	"fmt"
	"os"
	"time"
)

const primes = 5000

func generate(ch chan<- int64) {
	for i := int64(2); ; i++ {
		ch <- i
	}
}

func filter(in <-chan int64, out chan<- int64, prime int64) {
	for v := range in {
		if v%prime != 0 {
			out <- v
		}
	}
}

func main() {
	start := time.Now()
	ch := make(chan int64)
	go generate(ch)
	var prime int64
	for i := 0; i < primes; i++ {
		prime = <-ch
		next := make(chan int64)
		go filter(ch, next, prime)
		ch = next
	}
	elapsed := time.Since(start)
	if prime != 48611 {
		fmt.Fprintf(os.Stderr, "prime_sieve: prime %d is %d (want 48611)\n", primes, prime)
		os.Exit(1)
	}
	fmt.Printf("RESULT prime_sieve %.1f ms\n", float64(elapsed.Nanoseconds())/1e6)
}
