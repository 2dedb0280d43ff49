/* Public conventions: status strings, version, error text. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

START_TEST(status_strings_never_null)
{
    for (int s = -3; s < 40; s++) {
        const char *t = cs_status_string((cs_status)s);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_gt((int)strlen(t), 0);
    }
    ck_assert_str_eq(cs_status_string(CS_OK), "ok");
    ck_assert_str_eq(cs_status_string((cs_status)999), "unknown status");
    /* ABI: values never renumbered */
    ck_assert_int_eq(CS_OK, 0);
    ck_assert_int_eq(CS_ERR_TEXT_TOO_LONG, 9);
    ck_assert_int_eq(CS_ERR_INTERNAL, 14);
}
END_TEST

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(cs_version(), CS_VERSION_NUMBER);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", CS_VERSION_MAJOR, CS_VERSION_MINOR, CS_VERSION_PATCH);
    ck_assert_str_eq(cs_version_string(), buf);
}
END_TEST

START_TEST(last_error_is_never_null)
{
    ck_assert_ptr_nonnull(cs_last_error());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("conventions");
    tcase_add_test(tc, status_strings_never_null);
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, last_error_is_never_null);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
