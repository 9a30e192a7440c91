/* arc4random is new in glibc 2.36: the binary needs GLIBC_2.36 (and GLIBC_2.34 for
   __libc_start_main, as every program linked against glibc 2.34 or later). */
#include <stdio.h>
#include <stdlib.h>
int main(void) { printf("%u\n", arc4random()); return 0; }
