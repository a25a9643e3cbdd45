/*
 * clm error codes, shared by the server, libclm and the CLI.
 *
 * The numbers are the wire `clm.v1.Code` values (the gRPC codes), so a
 * clm_err converts to and from the wire with a cast; clm_err_from_code
 * checks the range. The list is written once, below, and generates the
 * enum, clm_strerror() and clm_errname().
 */
#ifndef CLM_ERROR_H
#define CLM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_ERRORS(X)                                    \
	X(OK, 0, "ok")                                   \
	X(CANCELLED, 1, "cancelled")                     \
	X(UNKNOWN, 2, "unknown error")                   \
	X(INVALID_ARGUMENT, 3, "invalid argument")       \
	X(DEADLINE_EXCEEDED, 4, "deadline exceeded")     \
	X(NOT_FOUND, 5, "not found")                     \
	X(ALREADY_EXISTS, 6, "already exists")           \
	X(PERMISSION_DENIED, 7, "permission denied")     \
	X(RESOURCE_EXHAUSTED, 8, "resource exhausted")   \
	X(FAILED_PRECONDITION, 9, "failed precondition") \
	X(ABORTED, 10, "aborted")                        \
	X(OUT_OF_RANGE, 11, "out of range")              \
	X(UNIMPLEMENTED, 12, "not implemented")          \
	X(INTERNAL, 13, "internal error")                \
	X(UNAVAILABLE, 14, "unavailable")                \
	X(DATA_LOSS, 15, "data loss")                    \
	X(UNAUTHENTICATED, 16, "unauthenticated")

typedef enum clm_err {
#define CLM_ERR_ENUM(name, num, msg) CLM_##name = num,
	CLM_ERRORS(CLM_ERR_ENUM)
#undef CLM_ERR_ENUM
} clm_err;

/* Number of codes; valid codes are 0 .. CLM_ERR_COUNT - 1. */
#define CLM_ERR_COUNT 17

/*
 * clm_strerror returns a short lowercase description of err ("not found");
 * an unknown value gives "unknown error code". The string is static.
 */
const char *clm_strerror(clm_err err);

/*
 * clm_errname returns the wire name of err ("NOT_FOUND"), or "?" for a value
 * outside the list. The string is static.
 */
const char *clm_errname(clm_err err);

/*
 * clm_err_from_code converts a wire `Code` number to clm_err; numbers outside
 * the list become CLM_UNKNOWN, as gRPC does.
 */
clm_err clm_err_from_code(int code);

#ifdef __cplusplus
}
#endif

#endif /* CLM_ERROR_H */
