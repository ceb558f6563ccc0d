/* A thread that never enters a syscall (state R, "running" in its
 * syscall record) beside a main thread that sleeps: the only kind of
 * thread `--stacks=ptrace` stops, for a moment. Built by the tests with
 * `cc -O2 -pthread`. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile unsigned long counter;
static volatile pid_t spinner_tid;

__attribute__((noinline)) static void spin_forever(void)
{
    for (;;)
        counter++;
}

static void *spinner(void *arg)
{
    spinner_tid = (pid_t)syscall(SYS_gettid);
    spin_forever();
    return arg;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    while (!spinner_tid)
        usleep(1000);
    printf("READY {\"spinner\": %d}\n", (int)spinner_tid);
    fflush(stdout);
    for (;;)
        pause();
}
