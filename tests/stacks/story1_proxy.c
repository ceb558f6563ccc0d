/* Story 1 of docs/stories.md in miniature: a proxy whose main thread joins
 * the "filter" thread relaying to the upstream, which waits in recv on an
 * upstream that keeps its keep-alive connection open and never answers,
 * while the client's request sits unread. Built by the tests with
 * `cc -O2 -pthread` and no debug info. Usage: story1_proxy UPSTREAM_PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int upstream_port;

__attribute__((noinline)) static long relay_upstream_filter(int up)
{
    char buf[4096];
    const char req[] = "GET /big.pdf HTTP/1.1\r\nHost: origin\r\n\r\n";
    if (send(up, req, sizeof req - 1, 0) < 0)
        return -1;
    /* The origin keeps the connection alive: this read never ends. */
    return recv(up, buf, sizeof buf, 0);
}

static void *filter_main(void *arg)
{
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(upstream_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(up, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect upstream");
        exit(1);
    }
    long n = relay_upstream_filter(up);
    close(up);
    return n < 0 ? NULL : arg;
}

__attribute__((noinline)) static int wait_for_filter(pthread_t t)
{
    void *ret;
    int err = pthread_join(t, &ret);
    if (err != 0)
        fprintf(stderr, "join: %s\n", strerror(err));
    return err;
}

__attribute__((noinline)) static void handle_client(int client)
{
    pthread_t t;
    pthread_create(&t, NULL, filter_main, NULL);
    pthread_setname_np(t, "ssl-filter");
    if (wait_for_filter(t) == 0)
        fprintf(stderr, "client %d done\n", client);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    upstream_port = atoi(argv[1]);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0)
        return 1;
    getsockname(l, (struct sockaddr *)&a, &n);
    printf("READY {\"port\": %d}\n", ntohs(a.sin_port));
    fflush(stdout);
    int c = accept(l, NULL, NULL);
    handle_client(c);
    close(c);
    return 0;
}
