// tcp_echo: 50 connections over loopback, each a client goroutine sending
// 2,000 64-byte messages to a server goroutine that echoes them; ns per
// round trip. Twin of ../tcp_echo.c.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

const (
	conns  = 50
	rounds = 2000
	msgLen = 64
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "tcp_echo: %s: %v\n", what, err)
	os.Exit(1)
}

func serve(c net.Conn) {
	buf := make([]byte, msgLen)
	for i := 0; i < rounds; i++ {
		if _, err := io.ReadFull(c, buf); err != nil {
			die("server read", err)
		}
		if _, err := c.Write(buf); err != nil {
			die("server write", err)
		}
	}
	c.Close()
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("listen", err)
	}
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				die("accept", err)
			}
			go serve(c) // Go's TCPConn has TCP_NODELAY set by default
		}
	}()
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(conns)
	for i := 0; i < conns; i++ {
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				die("dial", err)
			}
			msg := bytes.Repeat([]byte("x"), msgLen)
			echo := make([]byte, msgLen)
			for i := 0; i < rounds; i++ {
				if _, err := c.Write(msg); err != nil {
					die("client write", err)
				}
				if _, err := io.ReadFull(c, echo); err != nil {
					die("client read", err)
				}
			}
			if !bytes.Equal(msg, echo) {
				die("echo", fmt.Errorf("differs"))
			}
			c.Close()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	ln.Close()
	fmt.Printf("RESULT tcp_echo %.1f ns/op\n", float64(elapsed.Nanoseconds())/(conns*rounds))
}
