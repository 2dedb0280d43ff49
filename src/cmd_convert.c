/* clipsurgery convert (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_convert(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery convert: not implemented yet\n");
    return CLI_RUNTIME;
}
