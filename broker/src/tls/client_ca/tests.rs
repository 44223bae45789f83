//! The reloading client-CA verifier against certificates made by the test CA: a replaced file
//! is used for the next check, a broken one is reported once and the old CAs stay.

use super::*;
use gatehouse_e2e::test_ca::TestCa;

fn der(path: &std::path::Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

fn accepts(ca: &ReloadingClientCa, cert: &CertificateDer<'_>) -> bool {
    ca.verify_client_cert(cert, &[], UnixTime::now()).is_ok()
}

#[test]
fn a_replaced_file_is_used_and_a_broken_one_keeps_the_previous_cas() {
    let dir = tempfile::tempdir().unwrap();
    let one = TestCa::create(dir.path(), "one").unwrap();
    let two = TestCa::create(dir.path(), "two").unwrap();
    let from_one = der(&one.client("c1", "admin").unwrap().cert);
    let from_two = der(&two.client("c2", "admin").unwrap().cert);
    let served = dir.path().join("client-ca.pem");
    std::fs::copy(one.pem(), &served).unwrap();
    let ca = ReloadingClientCa::load(&served.display().to_string()).unwrap();
    assert!(ca.client_auth_mandatory());
    assert!(accepts(&ca, &from_one) && !accepts(&ca, &from_two));
    assert_eq!(ca.reload(), Reload::Unchanged);

    // Replaced by a rename, as cert-manager and most tools do.
    let next = dir.path().join("next.pem");
    std::fs::copy(two.pem(), &next).unwrap();
    std::fs::rename(&next, &served).unwrap();
    assert_eq!(ca.reload(), Reload::Swapped);
    assert!(accepts(&ca, &from_two) && !accepts(&ca, &from_one));

    // Broken in place: reported once, the CAs read last stay.
    for junk in [
        &b"not a certificate"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"",
    ] {
        std::fs::write(&served, junk).unwrap();
        assert!(matches!(ca.reload(), Reload::Kept(_)), "{junk:?}");
        assert_eq!(ca.reload(), Reload::Unchanged);
        assert!(accepts(&ca, &from_two) && !accepts(&ca, &from_one));
    }
    // A key where the CA belongs is refused too, and its bytes are not in the reason.
    let key = std::fs::read_to_string(dir.path().join("c1.key")).unwrap();
    std::fs::write(&served, &key).unwrap();
    let Reload::Kept(reason) = ca.reload() else {
        panic!("a key file was taken as CAs")
    };
    assert!(!reason.contains(key.lines().nth(1).unwrap()), "{reason}");
    // Removed (mid-rename): nothing changes.
    std::fs::remove_file(&served).unwrap();
    assert_eq!(ca.reload(), Reload::Unchanged);
    assert!(accepts(&ca, &from_two));
    // And back to the first CA.
    std::fs::copy(one.pem(), &served).unwrap();
    assert_eq!(ca.reload(), Reload::Swapped);
    assert!(accepts(&ca, &from_one) && !accepts(&ca, &from_two));
}

#[test]
fn a_file_without_certificates_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "").unwrap();
    let e = ReloadingClientCa::load(&path.display().to_string()).unwrap_err();
    assert!(e.contains("no PEM CERTIFICATE"), "{e}");
    let e = ReloadingClientCa::load("/no/such/ca.pem").unwrap_err();
    assert!(e.contains("cannot read"), "{e}");
}
