/* clm error strings, generated from the one list in clm/error.h. */
#include "clm/error.h"

const char *
clm_strerror(clm_err err)
{
	switch (err) {
#define CLM_ERR_MSG(name, num, msg) \
	case CLM_##name:            \
		return msg;
		CLM_ERRORS(CLM_ERR_MSG)
#undef CLM_ERR_MSG
	}
	return "unknown error code";
}

const char *
clm_errname(clm_err err)
{
	switch (err) {
#define CLM_ERR_NAME(name, num, msg) \
	case CLM_##name:             \
		return #name;
		CLM_ERRORS(CLM_ERR_NAME)
#undef CLM_ERR_NAME
	}
	return "?";
}

clm_err
clm_err_from_code(int code)
{
	if (code < 0 || code >= CLM_ERR_COUNT) {
		return CLM_UNKNOWN;
	}
	return (clm_err) code;
}
