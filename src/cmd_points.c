/* clipsurgery points (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_points(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery points: not implemented yet\n");
    return CLI_RUNTIME;
}
