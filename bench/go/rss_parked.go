// rss_parked SIZE: resident bytes per parked goroutine, SIZE (e.g. 1e5) of
// them parked in Wait on one WaitGroup that main opens at the end. RSS is
// read from /proc/self/statm before the first spawn and once all SIZE have
// reached their Wait. One size per process, so that no size reuses the
// stacks of another. Twin of ../rss_parked.c.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

var started, gate, finished sync.WaitGroup

func parker() {
	started.Done()
	gate.Wait()
	finished.Done()
}

func rssBytes() int {
	statm, err := os.ReadFile("/proc/self/statm")
	var fields []string
	if err == nil {
		fields = strings.Fields(string(statm))
	}
	if len(fields) < 2 {
		fmt.Fprintf(os.Stderr, "rss_parked: reading /proc/self/statm: %v %q\n", err, statm)
		os.Exit(1)
	}
	resident, err := strconv.Atoi(fields[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "rss_parked: /proc/self/statm: %v\n", err)
		os.Exit(1)
	}
	return resident * os.Getpagesize()
}

func main() {
	var size float64
	var err error
	if len(os.Args) == 2 {
		size, err = strconv.ParseFloat(os.Args[1], 64)
	}
	n := int(size)
	if len(os.Args) != 2 || err != nil || n < 1 || float64(n) != size {
		fmt.Fprintln(os.Stderr, "usage: rss_parked SIZE (a goroutine count such as 1e5)")
		os.Exit(2)
	}
	before := rssBytes()
	gate.Add(1)
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go parker()
	}
	// Go shows no waiter count: Done comes right before Wait, so once all
	// have started, every goroutine has parked or is about to.
	started.Wait()
	if got := runtime.NumGoroutine(); got != n+1 {
		fmt.Fprintf(os.Stderr, "rss_parked: %d goroutines alive, want %d\n", got, n+1)
		os.Exit(1)
	}
	after := rssBytes()
	gate.Done()
	finished.Wait()
	fmt.Printf("RESULT rss_parked_%s %.0f B/goroutine\n", os.Args[1], float64(after-before)/float64(n))
}
