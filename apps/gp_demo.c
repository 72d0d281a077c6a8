/* placeholder until the ops land; replaced by the real demo */
#include <graphpool/graphpool.h>
int main(void) { return gp_init() == GP_OK ? 0 : 1; }
