/**
 * Windows: libuv's own negative numbers (include/uv/errno.h, the `#else`
 * branch taken under _WIN32), the Winsock numbers (winsock2.h, WSABASEERR
 * 10000 + n), and what libuv's uv_translate_sys_error (src/win/error.c) turns
 * each Winsock error into. Node reports libuv's number as `errno`.
 *
 * Winsock errors libuv does not translate become UV_UNKNOWN (-4094), so Node
 * reports WSAENETDOWN, WSAENETRESET and WSAEHOSTDOWN as `code: "UNKNOWN"`,
 * `errno: -4094`, and WSAESHUTDOWN as EPIPE.
 */

export interface Win32Row {
  readonly code: string;
  /** libuv's number for the code on Windows, when libuv has one. */
  readonly uv?: number;
  /** The Winsock number (WSAE*). */
  readonly wsa?: number;
  /** What libuv reports `wsa` as, when not `code` itself ("UNKNOWN" for -4094). */
  readonly wsaReportedAs?: string;
}

type R = readonly [code: string, uv: number | null, wsa: number | null, wsaReportedAs?: string];

const ROWS: readonly R[] = [
  ["E2BIG", -4093, null],
  ["EACCES", -4092, 10013],
  ["EADDRINUSE", -4091, 10048],
  ["EADDRNOTAVAIL", -4090, 10049],
  ["EAFNOSUPPORT", -4089, 10047],
  ["EAGAIN", -4088, 10035], // WSAEWOULDBLOCK
  ["EALREADY", -4084, 10037],
  ["EBADF", -4083, 10009, "UNKNOWN"],
  ["EBUSY", -4082, null],
  ["ECANCELED", -4081, null], // from ERROR_OPERATION_ABORTED and WSAEINTR (WSAECANCELLED 10103 becomes UNKNOWN)
  ["ECONNABORTED", -4079, 10053],
  ["ECONNREFUSED", -4078, 10061],
  ["ECONNRESET", -4077, 10054],
  ["EDESTADDRREQ", -4076, 10039, "UNKNOWN"],
  ["EEXIST", -4075, null],
  ["EFAULT", -4074, 10014],
  ["EHOSTUNREACH", -4073, 10065],
  ["EINTR", -4072, 10004, "ECANCELED"],
  ["EINVAL", -4071, 10022],
  ["EIO", -4070, null],
  ["EISCONN", -4069, 10056],
  ["EISDIR", -4068, null],
  ["ELOOP", -4067, 10062, "UNKNOWN"],
  ["EMFILE", -4066, 10024],
  ["EMSGSIZE", -4065, 10040],
  ["ENAMETOOLONG", -4064, 10063, "UNKNOWN"],
  ["ENETDOWN", -4063, 10050, "UNKNOWN"], // the quirk: Node says UNKNOWN -4094
  ["ENETUNREACH", -4062, 10051],
  ["ENFILE", -4061, null],
  ["ENOBUFS", -4060, 10055],
  ["ENODEV", -4059, null],
  ["ENOENT", -4058, null],
  ["ENOMEM", -4057, null],
  ["ENONET", -4056, null],
  ["ENOSPC", -4055, null],
  ["ENOSYS", -4054, null],
  ["ENOTCONN", -4053, 10057],
  ["ENOTDIR", -4052, null],
  ["ENOTEMPTY", -4051, 10066, "UNKNOWN"],
  ["ENOTSOCK", -4050, 10038],
  ["ENOTSUP", -4049, null],
  ["EPERM", -4048, null],
  ["EPIPE", -4047, null],
  ["EPROTO", -4046, null],
  ["EPROTONOSUPPORT", -4045, 10043],
  ["EPROTOTYPE", -4044, 10041, "UNKNOWN"],
  ["EROFS", -4043, null],
  ["ESHUTDOWN", -4042, 10058, "EPIPE"],
  ["ESPIPE", -4041, null],
  ["ESRCH", -4040, null],
  ["ETIMEDOUT", -4039, 10060],
  ["ETXTBSY", -4038, null],
  ["EXDEV", -4037, null],
  ["EFBIG", -4036, null],
  ["ENOPROTOOPT", -4035, 10042, "UNKNOWN"],
  ["ERANGE", -4034, null],
  ["ENXIO", -4033, null],
  ["EMLINK", -4032, null],
  ["EHOSTDOWN", -4031, 10064, "UNKNOWN"], // the quirk: Node says UNKNOWN -4094
  ["EREMOTEIO", -4030, null],
  ["ENOTTY", -4029, null],
  ["EFTYPE", -4028, null],
  ["EILSEQ", -4027, null],
  ["EOVERFLOW", -4026, null],
  ["ESOCKTNOSUPPORT", -4025, 10044],
  ["ENODATA", -4024, null],
  ["EUNATCH", -4023, null],
  ["ENOEXEC", -4022, null],
  // Winsock errors with no libuv code at all
  ["EINPROGRESS", null, 10036, "UNKNOWN"],
  ["EOPNOTSUPP", null, 10045, "UNKNOWN"],
  ["EPFNOSUPPORT", null, 10046, "EINVAL"],
  ["ENETRESET", null, 10052, "UNKNOWN"], // the quirk: Node says UNKNOWN -4094
  ["ETOOMANYREFS", null, 10059, "UNKNOWN"],
  ["EUSERS", null, 10068, "UNKNOWN"],
  ["EDQUOT", null, 10069, "UNKNOWN"],
  ["ESTALE", null, 10070, "UNKNOWN"],
  ["EREMOTE", null, 10071, "UNKNOWN"],
];

export const WIN32_ERRNO: readonly Win32Row[] = ROWS.map(([code, uv, wsa, wsaReportedAs]) => ({
  code,
  ...(uv === null ? {} : { uv }),
  ...(wsa === null ? {} : { wsa }),
  ...(wsaReportedAs === undefined ? {} : { wsaReportedAs }),
}));

/**
 * Win32 system error numbers (winerror.h ERROR_*) that libuv translates to a
 * socket-relevant code (src/win/error.c), plus the common file ones.
 */
export const WIN32_SYSTEM_ERRORS: readonly (readonly [errno: number, name: string, code: string])[] = [
  [2, "ERROR_FILE_NOT_FOUND", "ENOENT"],
  [3, "ERROR_PATH_NOT_FOUND", "ENOENT"],
  [4, "ERROR_TOO_MANY_OPEN_FILES", "EMFILE"],
  [5, "ERROR_ACCESS_DENIED", "EACCES"],
  [6, "ERROR_INVALID_HANDLE", "EBADF"],
  [8, "ERROR_NOT_ENOUGH_MEMORY", "ENOMEM"],
  [64, "ERROR_NETNAME_DELETED", "ECONNRESET"], // the peer reset an overlapped socket
  [87, "ERROR_INVALID_PARAMETER", "EINVAL"],
  [109, "ERROR_BROKEN_PIPE", "EOF"],
  [112, "ERROR_DISK_FULL", "ENOSPC"],
  [121, "ERROR_SEM_TIMEOUT", "ETIMEDOUT"],
  [230, "ERROR_BAD_PIPE", "EPIPE"],
  [232, "ERROR_NO_DATA", "EPIPE"],
  [233, "ERROR_PIPE_NOT_CONNECTED", "EPIPE"],
  [995, "ERROR_OPERATION_ABORTED", "ECANCELED"],
  [1225, "ERROR_CONNECTION_REFUSED", "ECONNREFUSED"],
  [1227, "ERROR_ADDRESS_ALREADY_ASSOCIATED", "EADDRINUSE"],
  [1231, "ERROR_NETWORK_UNREACHABLE", "ENETUNREACH"],
  [1232, "ERROR_HOST_UNREACHABLE", "EHOSTUNREACH"],
  [1236, "ERROR_CONNECTION_ABORTED", "ECONNABORTED"],
  [2250, "ERROR_NOT_CONNECTED", "ENOTCONN"],
];
