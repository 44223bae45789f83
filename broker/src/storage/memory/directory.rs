//! [`Directory`] in memory: the same rules as SQL (lower-cased e-mail key, unique ids), under
//! the one storage lock.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::MemoryStorage;
use crate::storage::{
    Change, ClientRecord, Directory, PasswordRecord, RefreshToken, Result, StorageError, UserRef,
};

#[derive(Default)]
pub(super) struct DirectoryState {
    /// Keyed by [`PasswordRecord::key`]; ordered, as the SQL listings are.
    passwords: BTreeMap<String, PasswordRecord>,
    clients: BTreeMap<String, ClientRecord>,
}

/// Inserts unless the key is taken.
fn insert_new<T: Clone>(map: &mut BTreeMap<String, T>, key: String, value: &T) -> Result<()> {
    if map.contains_key(&key) {
        return Err(StorageError::AlreadyExists);
    }
    map.insert(key, value.clone());
    Ok(())
}

#[async_trait]
impl Directory for MemoryStorage {
    async fn create_password(&self, password: &PasswordRecord) -> Result<()> {
        let key = PasswordRecord::key(&password.email);
        insert_new(&mut self.lock().directory.passwords, key, password)
    }

    async fn get_password(&self, email: &str) -> Result<Option<PasswordRecord>> {
        let key = PasswordRecord::key(email);
        Ok(self.lock().directory.passwords.get(&key).cloned())
    }

    async fn update_password(
        &self,
        email: &str,
        change: Change<'_, PasswordRecord>,
    ) -> Result<bool> {
        let mut s = self.lock();
        let Some(p) = s.directory.passwords.get_mut(&PasswordRecord::key(email)) else {
            return Ok(false);
        };
        let mut edited = p.clone();
        change(&mut edited);
        p.hash = edited.hash;
        p.username = edited.username;
        Ok(true)
    }

    async fn delete_password(&self, email: &str) -> Result<bool> {
        let key = PasswordRecord::key(email);
        Ok(self.lock().directory.passwords.remove(&key).is_some())
    }

    async fn list_passwords(&self) -> Result<Vec<PasswordRecord>> {
        Ok(self.lock().directory.passwords.values().cloned().collect())
    }

    async fn create_client(&self, client: &ClientRecord) -> Result<()> {
        insert_new(
            &mut self.lock().directory.clients,
            client.id.clone(),
            client,
        )
    }

    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>> {
        Ok(self.lock().directory.clients.get(id).cloned())
    }

    async fn update_client(&self, id: &str, change: Change<'_, ClientRecord>) -> Result<bool> {
        let mut s = self.lock();
        let Some(c) = s.directory.clients.get_mut(id) else {
            return Ok(false);
        };
        change(c);
        c.id = id.to_string();
        Ok(true)
    }

    async fn delete_client(&self, id: &str) -> Result<bool> {
        Ok(self.lock().directory.clients.remove(id).is_some())
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        Ok(self.lock().directory.clients.values().cloned().collect())
    }

    async fn list_user_refresh_tokens(&self, user: UserRef<'_>) -> Result<Vec<RefreshToken>> {
        let mut out: Vec<RefreshToken> = self
            .lock()
            .refresh_tokens
            .values()
            .filter(|(t, spent)| spent.is_none() && user.owns(t))
            .map(|(t, _)| t.clone())
            .collect();
        out.sort_by(|a, b| (&a.client_id, a.created_at).cmp(&(&b.client_id, b.created_at)));
        Ok(out)
    }

    async fn revoke_user_client_refresh(&self, user: UserRef<'_>, client_id: &str) -> Result<u64> {
        let mut s = self.lock();
        let mine = |t: &RefreshToken| t.client_id == client_id && user.owns(t);
        let usable = s
            .refresh_tokens
            .values()
            .filter(|(t, spent)| spent.is_none() && mine(t))
            .count() as u64;
        let families: BTreeSet<String> = s
            .refresh_tokens
            .values()
            .filter(|(t, _)| mine(t))
            .map(|(t, _)| t.family.clone())
            .collect();
        s.refresh_tokens
            .retain(|_, (t, _)| !families.contains(&t.family));
        Ok(usable)
    }
}
