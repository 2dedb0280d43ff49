/* clipsurgery decode (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_decode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery decode: not implemented yet\n");
    return CLI_RUNTIME;
}
