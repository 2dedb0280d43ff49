/* clipsurgery info (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery info: not implemented yet\n");
    return CLI_RUNTIME;
}
