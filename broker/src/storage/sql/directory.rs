//! [`Directory`] on SQLite and PostgreSQL: one row per user / client, the record as JSON in
//! `data`, uniqueness enforced by the primary key (so of two replicas creating the same
//! e-mail or client id at once, exactly one insert succeeds).

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::refresh::delete_family;
use super::rows::{from_row, insert_error, to_json};
use super::SqlStorage;
use crate::storage::{
    Change, ClientRecord, Directory, PasswordRecord, RefreshToken, Result, UserRef,
};

/// A table of `(key, data)` rows; names are constants, never input.
struct Table {
    name: &'static str,
    key: &'static str,
}

const PASSWORDS: Table = Table {
    name: "passwords",
    key: "email_key",
};
const CLIENTS: Table = Table {
    name: "clients",
    key: "id",
};

impl SqlStorage {
    async fn insert_row<T: Serialize + Sync>(&self, t: &Table, key: &str, value: &T) -> Result<()> {
        let sql = format!("INSERT INTO {} ({}, data) VALUES ($1, $2)", t.name, t.key);
        sqlx::query(&self.backend.sql(&sql))
            .bind(key)
            .bind(to_json(value)?)
            .execute(&self.pool)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn get_row<T: DeserializeOwned>(&self, t: &Table, key: &str) -> Result<Option<T>> {
        let sql = format!("SELECT data FROM {} WHERE {} = $1", t.name, t.key);
        let row = sqlx::query(&self.backend.sql(&sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn list_rows<T: DeserializeOwned>(&self, t: &Table) -> Result<Vec<T>> {
        let sql = format!("SELECT data FROM {} ORDER BY {}", t.name, t.key);
        let rows = sqlx::query(&self.backend.sql(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn delete_row(&self, t: &Table, key: &str) -> Result<bool> {
        let sql = format!("DELETE FROM {} WHERE {} = $1", t.name, t.key);
        let n = sqlx::query(&self.backend.sql(&sql))
            .bind(key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Read-modify-write under the row lock: the no-op UPDATE comes first, so concurrent
    /// changes serialise instead of one overwriting the other.
    async fn modify_row<T: Serialize + DeserializeOwned>(
        &self,
        t: &Table,
        key: &str,
        change: &(dyn Fn(&mut T) + Send + Sync),
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let lock = format!("UPDATE {} SET data = data WHERE {} = $1", t.name, t.key);
        if sqlx::query(&self.backend.sql(&lock))
            .bind(key)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 0
        {
            return Ok(false);
        }
        let read = format!("SELECT data FROM {} WHERE {} = $1", t.name, t.key);
        let row = sqlx::query(&self.backend.sql(&read))
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let mut value: T = from_row(&row)?;
        change(&mut value);
        let write = format!("UPDATE {} SET data = $1 WHERE {} = $2", t.name, t.key);
        sqlx::query(&self.backend.sql(&write))
            .bind(to_json(&value)?)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every stored refresh token with whether it is still usable (not rotated away).
    async fn refresh_tokens_of(
        &self,
        client_id: Option<&str>,
    ) -> Result<Vec<(RefreshToken, bool)>> {
        let rows = match client_id {
            Some(id) => {
                sqlx::query(
                    &self
                        .backend
                        .sql("SELECT spent, data FROM refresh_tokens WHERE client_id = $1"),
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&self.backend.sql("SELECT spent, data FROM refresh_tokens"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|row| -> Result<(RefreshToken, bool)> {
                let spent: i64 = row.try_get("spent")?;
                Ok((from_row(row)?, spent == 0))
            })
            .collect()
    }
}

#[async_trait]
impl Directory for SqlStorage {
    async fn create_password(&self, password: &PasswordRecord) -> Result<()> {
        self.insert_row(&PASSWORDS, &PasswordRecord::key(&password.email), password)
            .await
    }

    async fn get_password(&self, email: &str) -> Result<Option<PasswordRecord>> {
        self.get_row(&PASSWORDS, &PasswordRecord::key(email)).await
    }

    async fn update_password(
        &self,
        email: &str,
        change: Change<'_, PasswordRecord>,
    ) -> Result<bool> {
        let keep = |p: &mut PasswordRecord| {
            let (email, user_id) = (p.email.clone(), p.user_id.clone());
            change(p);
            p.email = email;
            p.user_id = user_id;
        };
        self.modify_row(&PASSWORDS, &PasswordRecord::key(email), &keep)
            .await
    }

    async fn delete_password(&self, email: &str) -> Result<bool> {
        self.delete_row(&PASSWORDS, &PasswordRecord::key(email))
            .await
    }

    async fn list_passwords(&self) -> Result<Vec<PasswordRecord>> {
        self.list_rows(&PASSWORDS).await
    }

    async fn create_client(&self, client: &ClientRecord) -> Result<()> {
        self.insert_row(&CLIENTS, &client.id, client).await
    }

    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>> {
        self.get_row(&CLIENTS, id).await
    }

    async fn update_client(&self, id: &str, change: Change<'_, ClientRecord>) -> Result<bool> {
        let keep = |c: &mut ClientRecord| {
            let id = c.id.clone();
            change(c);
            c.id = id;
        };
        self.modify_row(&CLIENTS, id, &keep).await
    }

    async fn delete_client(&self, id: &str) -> Result<bool> {
        self.delete_row(&CLIENTS, id).await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        self.list_rows(&CLIENTS).await
    }

    async fn list_user_refresh_tokens(&self, user: UserRef<'_>) -> Result<Vec<RefreshToken>> {
        let mut out: Vec<RefreshToken> = self
            .refresh_tokens_of(None)
            .await?
            .into_iter()
            .filter(|(t, usable)| *usable && user.owns(t))
            .map(|(t, _)| t)
            .collect();
        out.sort_by(|a, b| (&a.client_id, a.created_at).cmp(&(&b.client_id, b.created_at)));
        Ok(out)
    }

    async fn revoke_user_client_refresh(&self, user: UserRef<'_>, client_id: &str) -> Result<u64> {
        let mine: Vec<(RefreshToken, bool)> = self
            .refresh_tokens_of(Some(client_id))
            .await?
            .into_iter()
            .filter(|(t, _)| user.owns(t))
            .collect();
        let usable = mine.iter().filter(|(_, usable)| *usable).count() as u64;
        let families: BTreeSet<&str> = mine.iter().map(|(t, _)| t.family.as_str()).collect();
        let mut tx = self.pool.begin().await?;
        for family in families {
            delete_family(self.backend, &mut tx, family).await?;
        }
        tx.commit().await?;
        Ok(usable)
    }
}
