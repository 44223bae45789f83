//! Every API call is logged once, when it ends: which RPC, who called (peer address and the
//! client certificate's subject, when mTLS is on), on what (an e-mail or client id), and the
//! outcome. Never a secret, a hash or a password.

use std::fmt::Display;

use tonic::{Request, Response, Status};
use x509_cert::der::Decode;

use super::proto::*;

/// One call in progress.
pub struct Call {
    rpc: &'static str,
    peer: String,
    subject: String,
}

impl Call {
    pub fn start<T>(rpc: &'static str, request: &Request<T>) -> Call {
        let peer = request
            .remote_addr()
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        let subject = request
            .peer_certs()
            .and_then(|certs| certs.first().map(|der| certificate_subject(der.as_ref())))
            .unwrap_or_else(|| "-".to_string());
        Call { rpc, peer, subject }
    }

    /// Logs the outcome and hands the result on.
    pub fn finish<R: Outcome>(
        self,
        target: impl Display,
        result: Result<R, Status>,
    ) -> Result<Response<R>, Status> {
        match &result {
            Ok(r) => tracing::info!(
                rpc = self.rpc,
                peer = %self.peer,
                client_cert = %self.subject,
                target = %target,
                outcome = r.outcome(),
                "api call"
            ),
            Err(status) => tracing::warn!(
                rpc = self.rpc,
                peer = %self.peer,
                client_cert = %self.subject,
                target = %target,
                code = ?status.code(),
                reason = %status.message(),
                "api call refused"
            ),
        }
        result.map(Response::new)
    }
}

fn certificate_subject(der: &[u8]) -> String {
    x509_cert::Certificate::from_der(der)
        .map(|c| c.tbs_certificate.subject.to_string())
        .unwrap_or_else(|_| "(unparsable certificate)".to_string())
}

/// A short word for the log: what the call did.
pub trait Outcome {
    fn outcome(&self) -> &'static str;
}

fn flag(set: bool, yes: &'static str, no: &'static str) -> &'static str {
    if set {
        yes
    } else {
        no
    }
}

macro_rules! outcome {
    ($($t:ty => |$r:ident| $e:expr;)*) => {
        $(impl Outcome for $t {
            fn outcome(&self) -> &'static str {
                let $r = self;
                $e
            }
        })*
    };
}

outcome! {
    GetClientResp => |_r| "found";
    CreateClientResp => |r| flag(r.already_exists, "already_exists", "created");
    UpdateClientResp => |r| flag(r.not_found, "not_found", "updated");
    DeleteClientResp => |r| flag(r.not_found, "not_found", "deleted");
    ListClientResp => |_r| "listed";
    CreatePasswordResp => |r| flag(r.already_exists, "already_exists", "created");
    UpdatePasswordResp => |r| flag(r.not_found, "not_found", "updated");
    DeletePasswordResp => |r| flag(r.not_found, "not_found", "deleted");
    ListPasswordResp => |_r| "listed";
    VersionResp => |_r| "answered";
    DiscoveryResp => |_r| "answered";
    ListRefreshResp => |_r| "listed";
    RevokeRefreshResp => |r| flag(r.not_found, "not_found", "revoked");
    VerifyPasswordResp => |r| if r.not_found { "not_found" } else { flag(r.verified, "verified", "wrong_password") };
    CreateConnectorResp => |_r| "-";
    UpdateConnectorResp => |_r| "-";
    DeleteConnectorResp => |_r| "-";
    ListConnectorResp => |_r| "-";
}
