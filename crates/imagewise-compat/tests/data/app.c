/* Uses both symbols of libiwdemo.so.1: needs IWDEMO_1.0 and IWDEMO_2.0. */
#include <stdio.h>
int iw_demo(void);
int iw_extra(void);
int main(void) { printf("%d\n", iw_demo() + iw_extra()); return 0; }
