//! Users of the password database through the API: static ones (from the config) listed and
//! verifiable, stored ones managed; hashes are checked before they are stored, never listed.

use tonic::Status;

use super::{invalid, read_only, storage_status, DexApi};
use crate::api::bcrypt_hash::checked_hash;
use crate::api::proto::*;
use crate::storage::{PasswordRecord, StorageError};

impl DexApi {
    fn static_password(&self, email: &str) -> Option<&crate::config::StaticPassword> {
        let key = PasswordRecord::key(email);
        self.app
            .config
            .static_passwords
            .iter()
            .find(|p| PasswordRecord::key(&p.email) == key)
    }

    pub(super) async fn create_password_inner(
        &self,
        r: CreatePasswordReq,
    ) -> Result<CreatePasswordResp, Status> {
        let p = r.password.ok_or_else(|| invalid("no password supplied"))?;
        if p.user_id.is_empty() {
            return Err(invalid("no user ID supplied"));
        }
        let email = p.email.trim();
        if !email.contains('@') {
            return Err(invalid("the email is not an e-mail address"));
        }
        let hash = checked_hash(&p.hash).map_err(invalid)?;
        if self.static_password(email).is_some() {
            return Ok(CreatePasswordResp {
                already_exists: true,
            });
        }
        let record = PasswordRecord {
            // As Dex's storage: e-mails are kept lower-cased.
            email: PasswordRecord::key(email),
            hash,
            username: p.username,
            user_id: p.user_id,
        };
        match self.app.storage.create_password(&record).await {
            Ok(()) => Ok(CreatePasswordResp {
                already_exists: false,
            }),
            Err(StorageError::AlreadyExists) => Ok(CreatePasswordResp {
                already_exists: true,
            }),
            Err(e) => Err(storage_status(e)),
        }
    }

    pub(super) async fn update_password_inner(
        &self,
        r: UpdatePasswordReq,
    ) -> Result<UpdatePasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if r.new_hash.is_empty() && r.new_username.is_empty() {
            return Err(invalid("nothing to update"));
        }
        let new_hash = if r.new_hash.is_empty() {
            None
        } else {
            Some(checked_hash(&r.new_hash).map_err(invalid)?)
        };
        if self.static_password(&r.email).is_some() {
            return Err(read_only(&format!("user {:?}", r.email)));
        }
        let change = |p: &mut PasswordRecord| {
            if let Some(hash) = &new_hash {
                p.hash = hash.clone();
            }
            if !r.new_username.is_empty() {
                p.username = r.new_username.clone();
            }
        };
        let found = self
            .app
            .storage
            .update_password(&r.email, &change)
            .await
            .map_err(storage_status)?;
        Ok(UpdatePasswordResp { not_found: !found })
    }

    pub(super) async fn delete_password_inner(
        &self,
        r: DeletePasswordReq,
    ) -> Result<DeletePasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if self.static_password(&r.email).is_some() {
            return Err(read_only(&format!("user {:?}", r.email)));
        }
        let found = self
            .app
            .storage
            .delete_password(&r.email)
            .await
            .map_err(storage_status)?;
        Ok(DeletePasswordResp { not_found: !found })
    }

    pub(super) async fn list_passwords_inner(&self) -> Result<ListPasswordResp, Status> {
        // As Dex: no hashes in the listing.
        let mut passwords: Vec<Password> = self
            .app
            .config
            .static_passwords
            .iter()
            .map(|p| Password {
                email: p.email.clone(),
                hash: Vec::new(),
                username: p.username.clone(),
                user_id: p.user_id.clone(),
            })
            .collect();
        let stored = self
            .app
            .storage
            .list_passwords()
            .await
            .map_err(storage_status)?;
        passwords.extend(
            stored
                .into_iter()
                .filter(|p| self.static_password(&p.email).is_none())
                .map(|p| Password {
                    email: p.email,
                    hash: Vec::new(),
                    username: p.username,
                    user_id: p.user_id,
                }),
        );
        Ok(ListPasswordResp { passwords })
    }

    pub(super) async fn verify_password_inner(
        &self,
        r: VerifyPasswordReq,
    ) -> Result<VerifyPasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if r.password.is_empty() {
            return Err(invalid("no password to verify supplied"));
        }
        let hash = match self.static_password(&r.email) {
            Some(p) => Some(p.hash.as_str().to_string()),
            None => self
                .app
                .storage
                .get_password(&r.email)
                .await
                .map_err(storage_status)?
                .map(|p| p.hash),
        };
        let Some(hash) = hash else {
            return Ok(VerifyPasswordResp {
                verified: false,
                not_found: true,
            });
        };
        let password = r.password;
        // bcrypt takes tens of milliseconds or more: off the async threads.
        let verified =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .map_err(|_| Status::internal("password check failed"))?;
        Ok(VerifyPasswordResp {
            verified,
            not_found: false,
        })
    }
}
