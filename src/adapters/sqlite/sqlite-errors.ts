import Database from 'better-sqlite3';
import { unavailable } from '../../domain/errors.js';

const UNAVAILABLE_SQLITE_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_READONLY',
]);

/** A failure meaning "the database cannot be used right now" becomes UNAVAILABLE; any other is returned as is. */
export function unavailableOrAsIs(error: unknown): unknown {
  if (error instanceof TypeError && error.message === 'The database connection is not open') {
    return unavailable('the SQLite database is closed');
  }
  if (error instanceof Database.SqliteError) {
    // Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, ...) share their primary code's first two words.
    const primaryCode = error.code.split('_', 2).join('_');
    if (UNAVAILABLE_SQLITE_CODES.has(primaryCode)) return unavailable(`SQLite database unavailable: ${error.message} (${error.code})`);
  }
  return error;
}
