/* clipsurgery tokenize (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery tokenize: not implemented yet\n");
    return CLI_RUNTIME;
}
