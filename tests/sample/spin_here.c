/* A process whose main thread spins in spin_here() until killed (or its
 * CPU-time limit ends it): the busy loop tests/sample_live.rs samples.
 * Built there with `cc -O2 -g`, and stripped with frame pointers. */
#include <stdio.h>

volatile unsigned long counter;

__attribute__((noinline)) void spin_here(void)
{
    for (;;)
        counter++;
}

int main(void)
{
    printf("READY {}\n");
    fflush(stdout);
    spin_here();
    return 0;
}
