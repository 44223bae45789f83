//! `storage: {type: mysql}` (issue 18) through the real broker binary on the MariaDB of this
//! machine, configured with Dex's keys: a whole sign-in (code, PKCE, approval), refresh rotation
//! and reuse detection, and a restart that keeps the signing key and the sessions.

mod support;

use gatehouse_e2e::mysql::TestDatabase;
use support::*;

fn mysql_storage(db: &TestDatabase) -> String {
    format!(
        "storage:\n  type: mysql\n  config:\n    host: \"{}\"\n    port: {}\n    database: \"{}\"\n    user: \"{}\"\n    ssl:\n      mode: \"false\"\n",
        db.host(),
        db.port(),
        db.name(),
        db.user()
    )
}

#[test]
fn sign_in_refresh_and_restart_on_mariadb() {
    let db = TestDatabase::create().unwrap();
    let mut b = Broker::start(Options::default());
    b.stop();
    let mut yaml = std::fs::read_to_string(&b.config).unwrap();
    let start = yaml.find("storage:\n").unwrap();
    let end = yaml.find("web:\n").unwrap();
    yaml.replace_range(start..end, &mysql_storage(&db));
    std::fs::write(&b.config, yaml).unwrap();
    b.spawn();
    assert!(b.log().contains("opened MySQL storage"), "{}", b.log());

    let tokens = sign_in(&b, "openid email offline_access");
    let claims = verify_jwt(&b, tokens["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(claims["email"], ADMIN_EMAIL);
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(&b, &rt1);
    assert_eq!(r.status(), 200);
    let rt2 = json(r)["refresh_token"].as_str().unwrap().to_string();

    let kid = |b: &Broker| {
        json(http().get(b.url("/keys")).send().unwrap())["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = kid(&b);
    assert!(b.stop().success());
    b.spawn();
    assert_eq!(kid(&b), before, "the signing key lives in MariaDB");
    let r = refresh(&b, &rt2);
    assert_eq!(r.status(), 200, "the session lives in MariaDB");
    // Reuse of the first token (past the reuse interval) revokes the family.
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_eq!(refresh(&b, &rt1).status(), 400);
}
