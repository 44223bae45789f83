//! The few spellings MySQL/MariaDB needs that SQLite and PostgreSQL share: statements are
//! written once, in the PostgreSQL/SQLite form, and rewritten here for MySQL when they run.
//! Parameters: `$1, $2, …` become `?` (MySQL binds by position, so every statement uses each
//! number once, in order). `INSERT … ON CONFLICT (id) DO NOTHING` becomes `… ON DUPLICATE KEY
//! UPDATE id = id`, which takes the row's exclusive lock at once (`INSERT IGNORE` would take a
//! shared one, and two such transactions upgrading it deadlock).
//! Schema: keys cannot be unbounded TEXT in MySQL, so TEXT columns become VARCHAR(255), and the
//! JSON `data` column LONGTEXT.

use std::borrow::Cow;

/// Which database is behind the pool, for the few places that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// `statement` as this backend spells it.
    pub(in crate::storage) fn sql<'a>(self, statement: &'a str) -> Cow<'a, str> {
        match self {
            Backend::Sqlite | Backend::Postgres => Cow::Borrowed(statement),
            Backend::Mysql => Cow::Owned(mysql_statement(statement)),
        }
    }

    /// A migration's DDL as this backend spells it.
    pub(in crate::storage) fn ddl<'a>(self, statement: &'a str) -> Cow<'a, str> {
        match self {
            Backend::Sqlite | Backend::Postgres => Cow::Borrowed(statement),
            Backend::Mysql => Cow::Owned(mysql_ddl(&mysql_statement(statement))),
        }
    }
}

fn mysql_statement(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    const NOTHING: &str = " DO NOTHING";
    if let (Some(conflict), true) = (
        out.find(" ON CONFLICT (id)"),
        out.trim_end().ends_with(NOTHING),
    ) {
        out.truncate(conflict);
        out = format!("{} ON DUPLICATE KEY UPDATE id = id", out.trim_end());
    }
    out
}

/// Binary collation: keys compare exactly, as in SQLite and PostgreSQL (MySQL's default
/// ignores case, so client ids `app` and `APP` would collide).
const EXACT: &str = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";

fn mysql_ddl(statement: &str) -> String {
    // `data` holds whole records; every other TEXT column is a key or an id.
    statement
        .replace("data TEXT", "data LONGTEXT_")
        .replace(" TEXT", &format!(" VARCHAR(255) {EXACT}"))
        .replace("LONGTEXT_", &format!("LONGTEXT {EXACT}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_upserts_are_rewritten_for_mysql_only() {
        let s = "UPDATE t SET a = $1, b = $2 WHERE id = $3";
        assert_eq!(Backend::Postgres.sql(s), s);
        assert_eq!(
            Backend::Mysql.sql(s),
            "UPDATE t SET a = ?, b = ? WHERE id = ?"
        );
        assert_eq!(
            Backend::Mysql.sql(
                "INSERT INTO rate_windows (id, window_end, count) VALUES ($1, 0, 0)
             ON CONFLICT (id) DO NOTHING"
            ),
            "INSERT INTO rate_windows (id, window_end, count) VALUES (?, 0, 0) ON DUPLICATE KEY UPDATE id = id"
        );
        // A dollar that is not a parameter stays.
        assert_eq!(Backend::Mysql.sql("SELECT '$x'"), "SELECT '$x'");
    }

    #[test]
    fn schema_gets_bounded_keys_and_long_data() {
        let ddl = "CREATE TABLE IF NOT EXISTS auth_codes (
            id TEXT PRIMARY KEY,
            user_code TEXT NOT NULL UNIQUE,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)";
        let out = Backend::Mysql.ddl(ddl);
        assert!(
            out.contains(&format!("id VARCHAR(255) {EXACT} PRIMARY KEY")),
            "{out}"
        );
        assert!(
            out.contains(&format!("user_code VARCHAR(255) {EXACT} NOT NULL UNIQUE")),
            "{out}"
        );
        assert!(
            out.contains(&format!("data LONGTEXT {EXACT} NOT NULL")),
            "{out}"
        );
        assert!(out.contains("expires_at BIGINT"), "{out}");
        assert_eq!(Backend::Sqlite.ddl(ddl), ddl);
    }
}
