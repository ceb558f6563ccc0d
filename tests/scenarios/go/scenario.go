// Real Go servers re-enacting stories 2 and 3 of docs/stories.md, and their
// healthy twins. Go's runtime parks its threads in futex and epoll whatever
// the goroutines do, which is what unwedge must not mistake for the cause.
//
//	scenario leak N       story 2: the first N connections are never closed
//	scenario limit        story 3: net/http behind a one-connection limit
//	                      listener (netutil.LimitListener(l, 1) semantics),
//	                      answering with Content-Length (so keep-alive)
//	scenario limit-close  the same with SetKeepAlivesEnabled(false): the fix
//	scenario healthy      plain net/http, no cap
//	scenario deadlock     issue 14: two goroutines take locks A and B in
//	                      opposite orders; every handler needs A, so none answers
//	scenario chan         issue 14: every handler waits on a channel nobody feeds
//	scenario mutex        issue 16: every request's lockedHandler waits on a
//	                      mutex main holds for ever (its goroutines name it)
//	scenario fixed        the deadlock scenario without the inversion (healthy)
//	scenario longpoll     /wait is held until an event that does not come,
//	                      every other path is answered at once (healthy)
//
// Prints `READY {"port": P}` once listening on 127.0.0.1:0.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// limitListener is golang.org/x/net/netutil.LimitListener, inlined (no
// module downloads here): Accept waits for a free slot before accepting.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "6")
	w.Write([]byte("hello\n"))
}

// held is locked by main in the mutex scenario and never unlocked.
var held sync.Mutex

//go:noinline
func lockedHandler(w http.ResponseWriter, r *http.Request) {
	held.Lock()
	defer held.Unlock()
	hello(w, r)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scenario leak N | limit | limit-close | healthy | deadlock | chan | mutex | fixed | longpoll")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "leak", "limit", "limit-close", "healthy", "deadlock", "chan", "mutex", "fixed", "longpoll":
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("READY {\"port\": %d}\n", l.Addr().(*net.TCPAddr).Port)
	switch os.Args[1] {
	case "leak":
		n, _ := strconv.Atoi(os.Args[2])
		accepted := 0
		for {
			c, err := l.Accept()
			if err != nil {
				continue
			}
			accepted++
			if accepted <= n {
				// The handler sleeps forever and never closes (story 2);
				// KeepAlive keeps the GC from closing the socket for it.
				go func(c net.Conn) { time.Sleep(24 * time.Hour); runtime.KeepAlive(c) }(c)
			} else {
				go func(c net.Conn) { buf := make([]byte, 512); c.Read(buf); c.Close() }(c)
			}
		}
	case "limit", "limit-close":
		srv := &http.Server{Handler: http.HandlerFunc(hello)}
		srv.SetKeepAlivesEnabled(os.Args[1] == "limit")
		srv.Serve(&limitListener{Listener: l, sem: make(chan struct{}, 1)})
	case "healthy":
		http.Serve(l, http.HandlerFunc(hello))
	case "deadlock", "fixed":
		var a, b sync.Mutex
		if os.Args[1] == "deadlock" {
			var ready sync.WaitGroup
			ready.Add(2)
			inverted := func(first, second *sync.Mutex) {
				first.Lock()
				ready.Done()
				ready.Wait()
				second.Lock() // never: the other goroutine holds it and waits for ours
			}
			go inverted(&a, &b)
			go inverted(&b, &a)
			ready.Wait()
		}
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.Lock()
			defer a.Unlock()
			hello(w, r)
		}))
	case "mutex":
		held.Lock()
		http.Serve(l, http.HandlerFunc(lockedHandler))
	case "chan":
		work := make(chan []byte) // the producer was never started
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(<-work)
		}))
	case "longpoll":
		events := make(chan string)
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/wait" {
				select {
				case ev := <-events:
					fmt.Fprintln(w, ev)
				case <-r.Context().Done():
				}
				return
			}
			hello(w, r)
		}))
	}
}
