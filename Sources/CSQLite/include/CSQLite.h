#ifndef CSQLITE_H
#define CSQLITE_H

/// The system SQLite (libsqlite3-dev), plus wrappers for what Swift cannot import: SQLITE_TRANSIENT is a
/// macro casting -1 to a function pointer.

#include <sqlite3.h>

/// sqlite3_bind_text with SQLITE_TRANSIENT: SQLite copies the bytes before returning, so Swift's
/// temporary buffer may go away at once.
int csqlite_bind_text(sqlite3_stmt *statement, int index, const char *text, int bytes);

#endif
