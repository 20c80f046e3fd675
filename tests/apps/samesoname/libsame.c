/* Built twice, with VALUE 1 and 2, both with SONAME libsame.so.1. */
int same_value(void) { return VALUE; }
