/* N threads spinning in spin_here() while connections wait, unaccepted,
 * on the process's listener: a busy_thread finding whose N threads a scan
 * samples (bench/cpu_sampling.py). Ends at its CPU-time limit, or killed. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile unsigned long counter;

__attribute__((noinline)) static void spin_here(void)
{
    for (;;)
        counter++;
}

static void *spinner(void *arg)
{
    (void)arg;
    spin_here();
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 10;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) || getsockname(s, (struct sockaddr *)&a, &len))
        return 1;
    for (int i = 0; i < 3; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) || write(c, "GET /\n", 6) != 6)
            return 1;
    }
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        pthread_create(&t, 0, spinner, 0);
    }
    printf("READY {\"port\": %d}\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;)
        pause();
}
