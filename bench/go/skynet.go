// skynet: 1e6 leaf goroutines in a 10-ary tree (1,111,111 goroutines in all);
// each node spawns its 10 children, which send their subtree's sum to it over
// its unbuffered channel, and passes the total up. Reports ms for the whole
// tree; the sum must be 499999500000. Twin of ../skynet.c.
package main

import (
	"fmt"
	"os"
	"time"
)

const leaves, div = 1000000, 10

func skynet(parent chan<- int64, num, size int64) {
	if size == 1 {
		parent <- num
		return
	}
	rc := make(chan int64)
	sub := size / div
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	parent <- sum
}

func main() {
	c := make(chan int64)
	start := time.Now()
	go skynet(c, 0, leaves)
	sum := <-c
	elapsed := time.Since(start)
	if sum != 499999500000 {
		fmt.Fprintf(os.Stderr, "skynet: sum %d (want 499999500000)\n", sum)
		os.Exit(1)
	}
	fmt.Printf("RESULT skynet %.1f ms\n", float64(elapsed.Nanoseconds())/1e6)
}
