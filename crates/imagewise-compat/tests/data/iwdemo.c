/* A small library with versioned symbols: iw_demo at IWDEMO_1.0 and, unless OLD is defined,
   iw_extra at IWDEMO_2.0. */
int iw_demo(void) { return 1; }
#ifndef OLD
int iw_extra(void) { return 2; }
#endif
