/* clipsurgery segment (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_segment(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery segment: not implemented yet\n");
    return CLI_RUNTIME;
}
