/* A one-connection-at-a-time TCP server whose handler never returns: it
 * accepts a connection, reads its request and spins in spin_here() (an
 * endless loop) until killed, or its CPU-time limit ends it. The busy loop
 * serving a socket that tests/scan_cpu.rs names from its samples. Built
 * there with `cc -O2 -g`. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

volatile unsigned long counter;

__attribute__((noinline)) void spin_here(void)
{
    for (;;)
        counter++;
}

__attribute__((noinline)) void handle(int c)
{
    char buf[256];
    if (read(c, buf, sizeof buf) > 0)
        spin_here();
}

int main(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) || getsockname(s, (struct sockaddr *)&a, &len))
        return 1;
    printf("READY {\"port\": %d}\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(s, 0, 0);
        if (c >= 0) {
            handle(c);
            close(c);
        }
    }
}
