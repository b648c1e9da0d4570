/**
 * The wire protocol's version. A client states the version it speaks in its `hello`; the
 * server refuses any other with `protocol-version-mismatch` and disconnects. Bump it on any
 * change that an existing client could misread (a renamed event, field or error code).
 */
export const PROTOCOL_VERSION = 1;
