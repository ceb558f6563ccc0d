// Goroutines parked on a mutex and on a channel, and the main goroutine
// reading an upstream that never answers. Built by tests/stacks_live.rs,
// then stripped (strip -s -w): its function names must still come from
// .gopclntab. Usage: goroutines UPSTREAM_ADDR
package main

import (
	"fmt"
	"net"
	"os"
	"sync"
)

var mu sync.Mutex

//go:noinline
func lockedWorker(done chan struct{}) {
	mu.Lock()
	defer mu.Unlock()
	<-done
}

//go:noinline
func waitForResult(results chan int) int {
	return <-results
}

func main() {
	mu.Lock()
	go lockedWorker(make(chan struct{}))
	go waitForResult(make(chan int))
	up, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	fmt.Println("READY {}")
	buf := make([]byte, 10)
	up.Read(buf)
}
